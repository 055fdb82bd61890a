//! plugin-sdk/README.md's example provider: the README shows exactly `plugins/example`, and the
//! component built from it works in the daemon's plugin host.

use std::process::Command;

use certkeeper::plugin::{PluginHost, ProviderConfig};
use serde_json::json;

use crate::providers::FakeApi;
use crate::support::{built_plugins, workspace_root};

/// The fenced block that follows `<!-- file: PATH -->` in the README.
fn readme_block(readme: &str, path: &str) -> String {
    let marker = format!("<!-- file: {path} -->\n");
    let start = readme
        .find(&marker)
        .unwrap_or_else(|| panic!("plugin-sdk/README.md has no block for {path}"));
    let block = &readme[start + marker.len()..];
    let body = block.split_once('\n').expect("an opening fence").1;
    let end = body.find("\n```\n").expect("a closing fence");
    body[..=end].to_owned()
}

#[test]
fn sdk_readme_shows_exactly_the_example_plugin() {
    let root = workspace_root();
    let readme = std::fs::read_to_string(root.join("plugin-sdk/README.md")).expect("README");
    for path in ["plugins/example/Cargo.toml", "plugins/example/src/lib.rs"] {
        let file = std::fs::read_to_string(root.join(path)).expect("example file");
        assert!(
            readme_block(&readme, path) == file,
            "plugin-sdk/README.md's block for {path} differs from the file: update one of them"
        );
    }
}

/// Builds the example with `scripts/build-plugins.sh`, as the README says (a no-op when it is up
/// to date), unless `CERTKEEPER_PLUGIN_DIR` points at components built elsewhere.
fn build_example() {
    if std::env::var_os("CERTKEEPER_PLUGIN_DIR").is_some() {
        return;
    }
    let script = workspace_root().join("scripts/build-plugins.sh");
    let output = Command::new("bash")
        .arg(&script)
        .args(["-p", "certkeeper-example"])
        .output()
        .expect("run scripts/build-plugins.sh");
    assert!(
        output.status.success(),
        "building the README's example failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sdk_readme_example_presents_and_cleans_up_two_values() {
    build_example();
    let built = built_plugins().join("example.wasm");
    assert!(
        built.is_file(),
        "{} is missing: run scripts/build-plugins.sh first",
        built.display()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::copy(&built, dir.path().join("example.wasm")).expect("copy the component");
    let fake = FakeApi::start("example", &["example-key"]);
    let config: ProviderConfig = serde_json::from_value(json!({
        "name": "ex", "plugin": "example", "allowed_hosts": [fake.authority()],
        "settings": { "api_url": fake.url(), "api_key": "example-key" },
    }))
    .expect("provider config");
    let host = PluginHost::load(dir.path(), vec![config]).expect("load example.wasm");
    let name = "_acme-challenge.example.test.";

    host.test_connection("ex").await.expect("test-connection");
    host.present("ex", name, "one", 60)
        .await
        .expect("present one");
    host.present("ex", name, "two", 60)
        .await
        .expect("present two");
    assert_eq!(fake.served(name), ["one", "two"]);
    host.cleanup("ex", name, "one").await.expect("cleanup one");
    assert_eq!(fake.served(name), ["two"], "the other value must stay");
    host.cleanup("ex", name, "two").await.expect("cleanup two");
    assert!(fake.served(name).is_empty());
}
