//! The zones delegated to certkeeper and what each name in them holds.
//!
//! Every zone has exactly three kinds of data: an SOA and an NS record at its apex, and the TXT
//! values the [`Board`] holds for names inside it. Nothing else exists, so a lookup here is a
//! pure function of the zone list and the board, kept apart from the wire handling in
//! `handler.rs` so it can be tested without sockets.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{NS, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

use super::server::DnsError;
use crate::challenge::Board;

/// Zone refresh, retry and expire: meaningless without secondaries, so kept at common values.
const SOA_REFRESH: i32 = 3600;
const SOA_RETRY: i32 = 600;
const SOA_EXPIRE: i32 = 86_400;

/// A TXT character-string holds at most 255 bytes (RFC 1035 §3.3); longer values are split.
const TXT_CHUNK: usize = 255;

/// The result of looking a question up in the served zones.
#[derive(Debug, PartialEq)]
pub(crate) enum Outcome {
    /// The name is in none of our zones: certkeeper is not a resolver.
    Refused,
    /// An authoritative answer (AA set): data, NODATA or NXDOMAIN.
    Authoritative {
        /// NOERROR or NXDOMAIN.
        rcode: ResponseCode,
        /// The answer section.
        answers: Vec<Record>,
        /// The authority section: the zone's SOA for negative answers.
        authority: Vec<Record>,
    },
}

/// The validated set of zones certkeeper answers for.
#[derive(Debug)]
pub(crate) struct Zones {
    zones: Vec<Zone>,
    ttl: u32,
}

#[derive(Debug)]
struct Zone {
    apex: Name,
    soa: Record,
    ns: Record,
}

/// The SOA fields shared by every zone.
#[derive(Debug, Clone)]
pub(crate) struct SoaTemplate {
    /// The NS target name, also the SOA MNAME.
    pub(crate) nameserver: Name,
    /// The SOA RNAME; `None` means `hostmaster.<zone>`.
    pub(crate) hostmaster: Option<Name>,
    /// The zone serial.
    pub(crate) serial: u32,
    /// The TTL of every record and the negative-caching TTL.
    pub(crate) ttl: u32,
}

impl Zones {
    /// Build the zone set from validated apex names.
    pub(crate) fn new(apexes: Vec<Name>, soa: &SoaTemplate) -> Result<Self, DnsError> {
        let mut zones = Vec::with_capacity(apexes.len());
        for apex in apexes {
            if zones.iter().any(|z: &Zone| z.apex == apex) {
                continue;
            }
            zones.push(Zone::new(apex, soa)?);
        }
        Ok(Self {
            zones,
            ttl: soa.ttl,
        })
    }

    /// Answer `qtype` at `qname` (the name as asked, any case) from the zones and `board`.
    ///
    /// ANY is answered like TXT: the only data that matters at a challenge name, and a small
    /// subset as RFC 8482 §4.1 allows.
    pub(crate) fn answer(&self, board: &Board, qname: &Name, qtype: RecordType) -> Outcome {
        let lower = qname.to_lowercase();
        let Some(zone) = self.zone_of(&lower) else {
            return Outcome::Refused;
        };

        let answers = self.records_at(zone, board, qname, &lower, qtype);
        let rcode = if !answers.is_empty() || self.name_exists(zone, board, &lower) {
            ResponseCode::NoError
        } else {
            ResponseCode::NXDomain
        };
        let authority = if answers.is_empty() {
            vec![zone.soa.clone()]
        } else {
            Vec::new()
        };
        Outcome::Authoritative {
            rcode,
            answers,
            authority,
        }
    }

    /// The most specific zone containing `name`.
    fn zone_of(&self, name: &Name) -> Option<&Zone> {
        self.zones
            .iter()
            .filter(|zone| zone.apex.zone_of(name))
            .max_by_key(|zone| zone.apex.num_labels())
    }

    fn records_at(
        &self,
        zone: &Zone,
        board: &Board,
        qname: &Name,
        lower: &Name,
        qtype: RecordType,
    ) -> Vec<Record> {
        let at_apex = *lower == zone.apex;
        let mut records = match qtype {
            RecordType::SOA if at_apex => vec![zone.soa.clone()],
            RecordType::NS if at_apex => vec![zone.ns.clone()],
            RecordType::TXT | RecordType::ANY => self.txt_records(board, qname),
            _ => Vec::new(),
        };
        // Echo the name as the client spelled it (0x20 randomisation).
        for record in &mut records {
            record.name = qname.clone();
        }
        records
    }

    fn txt_records(&self, board: &Board, qname: &Name) -> Vec<Record> {
        let values = board.txt(&qname.to_ascii());
        values
            .iter()
            .map(|value| txt_record(qname, self.ttl, value))
            .collect()
    }

    /// Whether `name` exists: the apex, a name the board holds or an ancestor of one, or an
    /// ancestor of another served zone.
    fn name_exists(&self, zone: &Zone, board: &Board, name: &Name) -> bool {
        *name == zone.apex
            || board.name_exists(&name.to_ascii())
            || self.zones.iter().any(|other| name.zone_of(&other.apex))
    }
}

impl Zone {
    fn new(apex: Name, template: &SoaTemplate) -> Result<Self, DnsError> {
        let rname = match &template.hostmaster {
            Some(rname) => rname.clone(),
            None => hostmaster_of(&apex)?,
        };
        let soa = SOA::new(
            template.nameserver.clone(),
            rname,
            template.serial,
            SOA_REFRESH,
            SOA_RETRY,
            SOA_EXPIRE,
            template.ttl,
        );
        let soa = Record::from_rdata(apex.clone(), template.ttl, RData::SOA(soa));
        let ns = NS(template.nameserver.clone());
        let ns = Record::from_rdata(apex.clone(), template.ttl, RData::NS(ns));
        Ok(Self { apex, soa, ns })
    }
}

/// `hostmaster.<apex>`, the RFC 2142 mailbox, as an SOA RNAME.
fn hostmaster_of(apex: &Name) -> Result<Name, DnsError> {
    let label = Name::from_ascii("hostmaster").expect("a fixed, valid label");
    label
        .append_domain(apex)
        .map_err(|error| DnsError::InvalidZone {
            zone: apex.to_ascii(),
            reason: format!("too long for a hostmaster address: {error}"),
        })
}

/// One TXT record holding `value`, split into 255-byte character-strings when longer.
fn txt_record(name: &Name, ttl: u32, value: &str) -> Record {
    let chunks: Vec<&[u8]> = value.as_bytes().chunks(TXT_CHUNK).collect();
    let txt = if chunks.is_empty() {
        TXT::from_bytes(vec![b""])
    } else {
        TXT::from_bytes(chunks)
    };
    Record::from_rdata(name.clone(), ttl, RData::TXT(txt))
}

/// Parse and check a zone or host name from the config; `what` names the setting.
pub(crate) fn parse_name(name: &str, what: &'static str) -> Result<Name, DnsError> {
    let invalid = |reason: String| DnsError::InvalidName {
        what,
        name: name.to_owned(),
        reason,
    };
    let trimmed = name.strip_suffix('.').unwrap_or(name);
    if trimmed.is_empty() {
        return Err(invalid("the root or an empty name cannot be used".into()));
    }
    if let Some(label) = trimmed.split('.').find(|label| !valid_label(label)) {
        return Err(invalid(format!(
            "label {label:?} must be 1-63 letters, digits, '-' or '_', not starting or ending \
             with '-'"
        )));
    }
    let parsed = Name::from_ascii(format!("{trimmed}.")).map_err(|e| invalid(e.to_string()))?;
    Ok(parsed.to_lowercase())
}

fn valid_label(label: &str) -> bool {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    (1..=63).contains(&label.len())
        && label.chars().all(allowed)
        && !label.starts_with('-')
        && !label.ends_with('-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zones(apexes: &[&str]) -> Zones {
        let apexes = apexes
            .iter()
            .map(|z| parse_name(z, "zone").unwrap())
            .collect();
        let template = SoaTemplate {
            nameserver: parse_name("ns.certkeeper.test.", "nameserver").unwrap(),
            hostmaster: None,
            serial: 7,
            ttl: 60,
        };
        Zones::new(apexes, &template).unwrap()
    }

    fn ask(zones: &Zones, board: &Board, name: &str, qtype: RecordType) -> Outcome {
        zones.answer(board, &Name::from_ascii(name).unwrap(), qtype)
    }

    fn rcode(outcome: &Outcome) -> ResponseCode {
        match outcome {
            Outcome::Authoritative { rcode, .. } => *rcode,
            Outcome::Refused => ResponseCode::Refused,
        }
    }

    #[test]
    fn answers_both_txt_values_on_one_name_in_the_askers_case() {
        let zones = zones(&["_acme-challenge.b.example.test"]);
        let board = Board::new();
        board.add_txt("_acme-challenge.b.example.test.", "apex");
        board.add_txt("_acme-challenge.b.example.test.", "wildcard");

        let Outcome::Authoritative { answers, .. } = ask(
            &zones,
            &board,
            "_ACME-Challenge.b.Example.test.",
            RecordType::TXT,
        ) else {
            panic!("expected an authoritative answer");
        };
        assert_eq!(answers.len(), 2);
        assert!(
            answers
                .iter()
                .all(|r| r.name.to_ascii() == "_ACME-Challenge.b.Example.test.")
        );
    }

    #[test]
    fn refuses_names_outside_every_zone() {
        let zones = zones(&["zone.test."]);
        let outcome = ask(&zones, &Board::new(), "other.test.", RecordType::TXT);
        assert_eq!(outcome, Outcome::Refused);
    }

    #[test]
    fn answers_nxdomain_with_soa_for_a_missing_name() {
        let zones = zones(&["zone.test."]);
        let outcome = ask(&zones, &Board::new(), "missing.zone.test.", RecordType::TXT);
        let Outcome::Authoritative {
            rcode,
            answers,
            authority,
        } = outcome
        else {
            panic!("expected an authoritative answer");
        };
        assert_eq!(rcode, ResponseCode::NXDomain);
        assert!(answers.is_empty());
        assert_eq!(authority[0].record_type(), RecordType::SOA);
    }

    #[test]
    fn answers_nodata_for_an_existing_name_without_that_type() {
        let zones = zones(&["zone.test."]);
        let board = Board::new();
        board.add_txt("_acme-challenge.a.zone.test.", "v");
        assert_eq!(
            rcode(&ask(&zones, &board, "a.zone.test.", RecordType::TXT)),
            ResponseCode::NoError
        );
        let apex_a = ask(&zones, &board, "zone.test.", RecordType::A);
        assert_eq!(rcode(&apex_a), ResponseCode::NoError);
    }

    #[test]
    fn serves_soa_and_ns_only_at_the_apex() {
        let zones = zones(&["zone.test."]);
        let Outcome::Authoritative { answers, .. } =
            ask(&zones, &Board::new(), "zone.test.", RecordType::NS)
        else {
            panic!("expected an authoritative answer");
        };
        assert_eq!(
            answers[0].data,
            RData::NS(NS(Name::from_ascii("ns.certkeeper.test.").unwrap()))
        );
        let below = ask(&zones, &Board::new(), "x.zone.test.", RecordType::SOA);
        assert_eq!(rcode(&below), ResponseCode::NXDomain);
    }

    #[test]
    fn picks_the_most_specific_of_nested_zones() {
        let zones = zones(&["test.", "inner.test."]);
        let Outcome::Authoritative { authority, .. } =
            ask(&zones, &Board::new(), "x.inner.test.", RecordType::TXT)
        else {
            panic!("expected an authoritative answer");
        };
        assert_eq!(authority[0].name.to_ascii(), "inner.test.");
    }

    #[test]
    fn splits_long_txt_values_into_255_byte_strings() {
        let record = txt_record(&Name::root(), 60, &"x".repeat(600));
        let RData::TXT(txt) = record.data else {
            panic!("expected TXT")
        };
        let sizes: Vec<usize> = txt.txt_data.iter().map(|s| s.len()).collect();
        assert_eq!(sizes, [255, 255, 90]);
    }

    #[test]
    fn rejects_a_zone_name_with_a_bad_label_and_names_it() {
        let error = parse_name("a..test", "zone").unwrap_err().to_string();
        assert!(error.contains("a..test"), "{error}");
        assert!(parse_name(".", "zone").is_err());
        assert!(parse_name("sp ace.test", "zone").is_err());
        assert_eq!(
            parse_name("Zone.Test", "zone").unwrap().to_ascii(),
            "zone.test."
        );
    }
}
