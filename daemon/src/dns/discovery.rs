//! Finding a name's zone and that zone's authoritative servers through the configured resolvers.
//!
//! The resolvers are only asked where to look (CNAME, SOA, NS, addresses); the value itself is
//! then asked of the authoritative servers directly, see `propagation.rs`.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use tracing::{debug, warn};

use super::exchange;
use super::propagation::PropagationError;

/// CNAME hops followed from `_acme-challenge.<domain>` before giving up on a loop.
const MAX_CNAME_HOPS: usize = 8;

/// Asks the configured resolvers, in order, until one gives a usable answer.
pub(crate) struct Discovery<'a> {
    pub(crate) resolvers: &'a [SocketAddr],
    pub(crate) timeout: Duration,
}

impl Discovery<'_> {
    /// The name the record really lives at: `name`, or where its CNAME chain ends.
    pub(crate) async fn follow_cnames(&self, name: &Name) -> Result<Name, PropagationError> {
        let mut current = name.clone();
        for _ in 0..MAX_CNAME_HOPS {
            let answer = self.ask(&current, RecordType::CNAME).await?;
            let target = answer.answers.iter().find_map(|record| match &record.data {
                RData::CNAME(target) if record.name == current => Some(target.0.clone()),
                _ => None,
            });
            match target {
                Some(target) => {
                    debug!(from = %current, to = %target, "dns-01 name delegated by CNAME");
                    current = target;
                }
                None => return Ok(current),
            }
        }
        Err(PropagationError::CnameLoop {
            name: name.to_string(),
        })
    }

    /// The apex of the zone holding `name`: walk up until an SOA answers for it.
    pub(crate) async fn zone_apex(&self, name: &Name) -> Result<Name, PropagationError> {
        let mut candidate = name.clone();
        while !candidate.is_root() {
            let answer = self.ask(&candidate, RecordType::SOA).await?;
            if let Some(apex) = soa_owner(&answer, &candidate) {
                return Ok(apex);
            }
            candidate = candidate.base_name();
        }
        Err(PropagationError::ZoneNotFound {
            name: name.to_string(),
        })
    }

    /// The NS names of `zone`, with the glue addresses the answer carried.
    pub(crate) async fn nameservers(
        &self,
        zone: &Name,
    ) -> Result<Vec<(Name, Vec<IpAddr>)>, PropagationError> {
        let answer = self.ask(zone, RecordType::NS).await?;
        let names: Vec<Name> = answer
            .answers
            .iter()
            .filter(|record| record.name == *zone)
            .filter_map(|record| match &record.data {
                RData::NS(ns) => Some(ns.0.clone()),
                _ => None,
            })
            .collect();
        if names.is_empty() {
            return Err(PropagationError::NoNameservers {
                zone: zone.to_string(),
            });
        }
        Ok(names
            .into_iter()
            .map(|ns| (ns.clone(), addresses_in(&answer, &ns)))
            .collect())
    }

    /// The A and AAAA addresses of `host`; a failed lookup is logged and gives none.
    pub(crate) async fn addresses(&self, host: &Name) -> Vec<IpAddr> {
        let mut found = Vec::new();
        for qtype in [RecordType::A, RecordType::AAAA] {
            match self.ask(host, qtype).await {
                Ok(answer) => found.extend(addresses_in(&answer, host)),
                Err(error) => warn!(%error, host = %host, "nameserver address lookup failed"),
            }
        }
        found
    }

    /// Ask each resolver in turn; NOERROR and NXDOMAIN are answers, anything else is tried on
    /// the next resolver.
    async fn ask(&self, name: &Name, qtype: RecordType) -> Result<Message, PropagationError> {
        let mut failures = Vec::new();
        for &resolver in self.resolvers {
            match exchange::ask(resolver, name, qtype, true, self.timeout).await {
                Ok(answer) if usable(answer.metadata.response_code) => return Ok(answer),
                Ok(answer) => failures.push(format!(
                    "{resolver} answered {}",
                    answer.metadata.response_code
                )),
                Err(error) => failures.push(error.to_string()),
            }
        }
        Err(PropagationError::Lookup {
            name: name.to_string(),
            qtype,
            failures: failures.join("; "),
        })
    }
}

fn usable(rcode: ResponseCode) -> bool {
    matches!(rcode, ResponseCode::NoError | ResponseCode::NXDomain)
}

/// The zone apex an SOA answer names for `candidate`: an SOA owned by `candidate` in the answer
/// section, or the SOA of an enclosing zone in the authority section of a negative answer.
fn soa_owner(answer: &Message, candidate: &Name) -> Option<Name> {
    let is_soa = |record: &&hickory_proto::rr::Record| record.record_type() == RecordType::SOA;
    if answer
        .answers
        .iter()
        .filter(is_soa)
        .any(|record| record.name == *candidate)
    {
        return Some(candidate.to_lowercase());
    }
    answer
        .authorities
        .iter()
        .filter(is_soa)
        .find(|record| record.name.zone_of(candidate))
        .map(|record| record.name.to_lowercase())
}

/// The A and AAAA data for `host` found in any section of `message`.
fn addresses_in(message: &Message, host: &Name) -> Vec<IpAddr> {
    message
        .answers
        .iter()
        .chain(&message.additionals)
        .filter(|record| record.name == *host)
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(IpAddr::V4(a.0)),
            RData::AAAA(aaaa) => Some(IpAddr::V6(aaaa.0)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::{A, SOA};

    use super::*;

    fn name(text: &str) -> Name {
        Name::from_ascii(text).unwrap()
    }

    fn soa_at(owner: &str) -> Record {
        let soa = SOA::new(name("ns.test."), name("h.test."), 1, 1, 1, 1, 1);
        Record::from_rdata(name(owner), 60, RData::SOA(soa))
    }

    #[test]
    fn finds_the_apex_in_the_authority_of_a_negative_answer() {
        let mut answer = Message::response(1, hickory_proto::op::OpCode::Query);
        answer.add_authority(soa_at("example.test."));
        let apex = soa_owner(&answer, &name("_acme-challenge.c.example.test."));
        assert_eq!(apex, Some(name("example.test.")));
    }

    #[test]
    fn ignores_an_soa_that_does_not_enclose_the_name() {
        let mut answer = Message::response(1, hickory_proto::op::OpCode::Query);
        answer.add_authority(soa_at("other.test."));
        assert_eq!(soa_owner(&answer, &name("a.example.test.")), None);
    }

    #[test]
    fn takes_glue_only_for_the_nameserver_it_belongs_to() {
        let mut answer = Message::response(1, hickory_proto::op::OpCode::Query);
        let glue = |owner: &str, last| {
            Record::from_rdata(name(owner), 60, RData::A(A(Ipv4Addr::new(127, 0, 0, last))))
        };
        answer.add_additional(glue("ns1.example.test.", 1));
        answer.add_additional(glue("ns2.example.test.", 2));
        let found = addresses_in(&answer, &name("NS1.example.test."));
        assert_eq!(found, vec![IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1))]);
    }
}
