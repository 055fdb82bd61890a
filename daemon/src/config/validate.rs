//! Checks that need the whole file: references between sections, domain syntax, and which
//! validation method can serve which name.

use std::collections::HashSet;

use toml::Spanned;

use super::Config;
use super::error::Misplaced;
use crate::acme::{ChallengeKind, DnsMethod, challenge_record_name, validate_domain};
use crate::challenge::canonical_name;

/// Check everything that parsing alone cannot.
pub(crate) fn check(config: &Config) -> Result<(), Misplaced> {
    unique(config.cas.iter().map(|ca| &ca.name), "ca")?;
    unique(config.accounts.iter().map(|a| &a.name), "account")?;
    unique(config.certificates.iter().map(|c| &c.name), "certificate")?;
    let names = (config.cas.iter().map(|c| ("ca", &c.name)))
        .chain(config.accounts.iter().map(|a| ("account", &a.name)))
        .chain(config.certificates.iter().map(|c| ("certificate", &c.name)));
    for (kind, name) in names {
        crate::acme::validate_object_name(kind, name.get_ref())
            .map_err(|e| Misplaced::new(name.span(), e.to_string()))?;
    }
    check_cas(config)?;
    check_accounts(config)?;
    config
        .certificates
        .iter()
        .try_for_each(|cert| check_certificate(config, cert))
}

fn unique<'a>(
    names: impl Iterator<Item = &'a Spanned<String>>,
    section: &str,
) -> Result<(), Misplaced> {
    let mut seen = HashSet::new();
    for name in names {
        if !seen.insert(name.get_ref()) {
            let msg = format!(
                "two [[{section}]] sections are both named \"{}\"",
                name.get_ref()
            );
            return Err(Misplaced::new(name.span(), msg));
        }
    }
    Ok(())
}

fn check_cas(config: &Config) -> Result<(), Misplaced> {
    for ca in &config.cas {
        super::vendor_check::check_vendor(ca, false)?;
        let Some(directory) = &ca.directory else {
            continue;
        };
        let url = directory.get_ref();
        if !url.starts_with("https://") {
            let msg = format!("directory \"{url}\" is not an https:// URL (RFC 8555 §6.1)");
            return Err(Misplaced::new(directory.span(), msg));
        }
    }
    Ok(())
}

fn check_accounts(config: &Config) -> Result<(), Misplaced> {
    for account in &config.accounts {
        if config.ca(account.ca.get_ref()).is_none() {
            let msg = format!(
                "account refers to ca \"{}\", which no [[ca]] defines",
                account.ca.get_ref()
            );
            return Err(Misplaced::new(account.ca.span(), msg));
        }
        crate::acme::validate_email(account.email.get_ref())
            .map_err(|e| Misplaced::new(account.email.span(), e.to_string()))?;
        check_eab(account)?;
    }
    Ok(())
}

/// Both EAB halves or neither, at most one source for the key, and a key that decodes.
fn check_eab(account: &super::AccountConfig) -> Result<(), Misplaced> {
    if let (Some(_), Some(file)) = (&account.eab_hmac_key, &account.eab_hmac_key_file) {
        let msg = "set eab_hmac_key or eab_hmac_key_file, not both";
        return Err(Misplaced::new(file.span(), msg));
    }
    let at = account
        .eab_kid
        .as_ref()
        .map(Spanned::span)
        .or_else(|| account.eab_hmac_key.as_ref().map(Spanned::span))
        .or_else(|| account.eab_hmac_key_file.as_ref().map(Spanned::span));
    let Some(at) = at else {
        return Ok(());
    };
    let key = account
        .eab_hmac_key()
        .map_err(|msg| Misplaced::new(at.clone(), msg))?;
    let kid = account.eab_kid.as_ref().map(|k| k.get_ref().as_str());
    crate::acme::EabCredentials::from_parts(kid, key.as_deref())
        .map_err(|e| Misplaced::new(at, e.to_string()))?;
    Ok(())
}

fn check_certificate(config: &Config, cert: &super::CertificateConfig) -> Result<(), Misplaced> {
    if config.account(cert.account.get_ref()).is_none() {
        let msg = format!(
            "certificate refers to account \"{}\", which no [[account]] defines",
            cert.account.get_ref()
        );
        return Err(Misplaced::new(cert.account.span(), msg));
    }
    if cert.names.get_ref().is_empty() {
        return Err(Misplaced::new(
            cert.names.span(),
            "a certificate needs at least one name",
        ));
    }
    for name in cert.names.get_ref() {
        validate_domain(name).map_err(|e| Misplaced::new(cert.names.span(), e.to_string()))?;
    }
    cert.deploy
        .iter()
        .enumerate()
        .try_for_each(|(i, target)| check_deploy(cert, i + 1, target))?;
    match cert.challenge {
        ChallengeKind::Http01 => check_http01(config, cert),
        ChallengeKind::Dns01 => check_dns01(config, cert),
    }
}

fn check_http01(config: &Config, cert: &super::CertificateConfig) -> Result<(), Misplaced> {
    if let Some(name) = cert.names.get_ref().iter().find(|n| n.starts_with("*.")) {
        let msg = format!("\"{name}\" is a wildcard: CAs validate wildcards only by dns-01");
        return Err(Misplaced::new(cert.names.span(), msg));
    }
    if config.http01.is_none() {
        let msg = "challenge = \"http-01\" needs an [http01] section for the listener";
        return Err(Misplaced::new(cert.name.span(), msg));
    }
    if let Some(dns) = &cert.dns {
        return Err(Misplaced::new(
            dns.span(),
            "`dns` applies only to challenge = \"dns-01\"",
        ));
    }
    Ok(())
}

fn check_dns01(config: &Config, cert: &super::CertificateConfig) -> Result<(), Misplaced> {
    let Some(dns) = &cert.dns else {
        let msg = "challenge = \"dns-01\" needs `dns` = \"builtin\", \"manual\" or a provider name";
        return Err(Misplaced::new(cert.name.span(), msg));
    };
    match DnsMethod::parse(dns.get_ref()) {
        DnsMethod::Builtin => check_builtin(config, cert, dns),
        DnsMethod::Manual => Ok(()),
        DnsMethod::Provider(p) if config.dns_providers.iter().any(|d| d.name == p) => Ok(()),
        DnsMethod::Provider(p) => {
            let msg = format!("dns = \"{p}\" names no [[dns_provider]] (nor builtin or manual)");
            Err(Misplaced::new(dns.span(), msg))
        }
    }
}

fn check_builtin(
    config: &Config,
    cert: &super::CertificateConfig,
    dns: &Spanned<String>,
) -> Result<(), Misplaced> {
    let Some(server) = &config.dns_server else {
        return Err(Misplaced::new(
            dns.span(),
            "dns = \"builtin\" needs a [dns_server] section",
        ));
    };
    let zones: Vec<String> = server.zones.iter().map(|z| canonical_name(z)).collect();
    for name in cert.names.get_ref() {
        let record = challenge_record_name(name);
        let served = zones
            .iter()
            .any(|z| record == *z || record.ends_with(&format!(".{z}")));
        if !served {
            let msg = format!("{record} is in none of the [dns_server] zones {zones:?}");
            return Err(Misplaced::new(cert.names.span(), msg));
        }
    }
    Ok(())
}

/// Longest propagation wait accepted: a week, far beyond any real DNS provider's delay.
const MAX_PROPAGATION_SECS: u64 = 7 * 24 * 3600;

/// Checks of whole sections that carry no spans; errors point at the section's header.
pub(crate) fn check_sections(config: &Config, text: &str) -> Result<(), Misplaced> {
    let at = |table: &str| {
        let start = text.find(&format!("[{table}]")).unwrap_or(0);
        start..start + 1
    };
    if let Some(server) = &config.dns_server {
        server
            .validate()
            .map_err(|e| Misplaced::new(at("dns_server"), e.to_string()))?;
    }
    let p = &config.propagation;
    if p.timeout_secs == 0 {
        let msg = "timeout_secs = 0 would give up before the first look; it must be at least 1";
        return Err(Misplaced::new(at("propagation"), msg));
    }
    if p.interval_secs == 0 || p.query_timeout_ms == 0 {
        let msg = "interval_secs and query_timeout_ms must be at least 1 (0 would flood the name servers)";
        return Err(Misplaced::new(at("propagation"), msg));
    }
    if p.timeout_secs > MAX_PROPAGATION_SECS || p.interval_secs > p.timeout_secs.max(1) {
        let msg = format!(
            "timeout_secs must be at most {MAX_PROPAGATION_SECS} and interval_secs at most timeout_secs"
        );
        return Err(Misplaced::new(at("propagation"), msg));
    }
    check_providers(config, text)?;
    check_admin_socket(config, text)?;
    if let Some(account) = config.accounts.iter().find(|a| !a.agree_tos) {
        let msg = format!(
            "account \"{}\": agree_tos = false, so the daemon could never register it; \
             set agree_tos = true to agree to the CA's terms",
            account.name.get_ref()
        );
        return Err(Misplaced::new(account.name.span(), msg));
    }
    Ok(())
}

fn check_deploy(
    cert: &super::CertificateConfig,
    number: usize,
    target: &crate::deploy::DeployTarget,
) -> Result<(), Misplaced> {
    // N.B. paths carry no span: these errors point at the certificate's name.
    let refuse = |what: String| {
        let msg = format!(
            "certificate \"{}\", deploy target {number}: {what}",
            cert.name.get_ref()
        );
        Err(Misplaced::new(cert.name.span(), msg))
    };
    let files = [
        ("cert", &target.cert),
        ("chain", &target.chain),
        ("fullchain", &target.fullchain),
        ("key", &target.key),
    ];
    let mut seen: Vec<(&str, &std::path::Path)> = Vec::new();
    for (key, path) in files {
        let Some(path) = path else { continue };
        if !path.is_absolute() {
            return refuse(format!(
                "{key} = \"{}\" is a relative path; give an absolute one (the daemon's working \
                 directory is not the config's)",
                path.display()
            ));
        }
        if let Some((other, _)) = seen.iter().find(|(_, p)| *p == path.as_path()) {
            return refuse(format!(
                "{other} and {key} are both \"{}\"; one would overwrite the other",
                path.display()
            ));
        }
        seen.push((key, path));
    }
    if seen.is_empty() && target.hooks.is_empty() {
        return refuse("it names no file (cert, chain, fullchain, key) and no hook".into());
    }
    if crate::deploy::parse_mode(target.key_mode.get_ref()).is_some_and(|m| m & 0o007 != 0) {
        let msg = format!(
            "key_mode \"{}\" lets every local user at the private key; use \"0600\" or \"0640\"",
            target.key_mode.get_ref()
        );
        return Err(Misplaced::new(target.key_mode.span(), msg));
    }
    for mode in [&target.mode, &target.key_mode] {
        if crate::deploy::parse_mode(mode.get_ref()).is_none() {
            let msg = format!(
                "mode \"{}\" is not an octal file mode such as \"0640\"",
                mode.get_ref()
            );
            return Err(Misplaced::new(mode.span(), msg));
        }
    }
    if let Some(hook) = target
        .hooks
        .iter()
        .find(|h| h.command.get_ref().trim().is_empty())
    {
        return Err(Misplaced::new(
            hook.command.span(),
            "a hook needs a command",
        ));
    }
    Ok(())
}

/// `[[dns_provider]]` names follow the object naming rules, are unique, and are not the
/// built-in methods' names, which a certificate's `dns` would otherwise mean.
fn check_providers(config: &Config, text: &str) -> Result<(), Misplaced> {
    let at = |name: &str| {
        let section = text.find("[[dns_provider]]").unwrap_or(0);
        let quoted = format!("\"{name}\"");
        let start = text[section..]
            .find(&quoted)
            .map_or(section, |i| section + i);
        start..start + quoted.len().max(1)
    };
    let mut seen = HashSet::new();
    for provider in &config.dns_providers {
        let name = provider.name.as_str();
        crate::acme::validate_object_name("dns provider", name)
            .map_err(|e| Misplaced::new(at(name), e.to_string()))?;
        if matches!(name, "builtin" | "manual") {
            let msg = format!(
                "a [[dns_provider]] cannot be named \"{name}\": dns = \"{name}\" already means \
                 the {name} DNS-01 method"
            );
            return Err(Misplaced::new(at(name), msg));
        }
        if !seen.insert(name) {
            let msg = format!("two [[dns_provider]] sections are both named \"{name}\"");
            return Err(Misplaced::new(at(name), msg));
        }
    }
    Ok(())
}

/// The longest path a Unix socket address holds (`sun_path` is 108 bytes with its NUL).
const MAX_SOCKET_PATH: usize = 107;

fn check_admin_socket(config: &Config, text: &str) -> Result<(), Misplaced> {
    let len = config.admin_socket.as_os_str().len();
    if len <= MAX_SOCKET_PATH {
        return Ok(());
    }
    let start = text.find("admin_socket").unwrap_or(0);
    let msg = format!(
        "admin_socket is {len} bytes long; a Unix socket path holds at most {MAX_SOCKET_PATH}"
    );
    Err(Misplaced::new(start..start + 1, msg))
}
