//! Getting a pending order's names validated: choose each authorization's challenge, post the
//! answer (HTTP-01 board, built-in DNS, a provider plugin, or the operator by hand), wait until
//! it can be seen where the CA will look, tell the CA, and take the answers down afterwards.

use instant_acme::{AuthorizationStatus, ChallengeStatus as AcmeChallengeStatus, ChallengeType};
use tracing::{info, warn};

use super::engine::{Engine, EngineError, convert_status};
use super::{ChallengeKind, DnsMethod, challenge_record_name};
use crate::store::{ChallengeRecord, ChallengeStatus, OrderRecord, now};

/// One challenge the CA offered for a pending authorization.
struct Offered {
    identifier: String,
    url: String,
    token: String,
    key_authorization: String,
    dns_value: String,
}

impl Engine {
    /// Validate every pending authorization of `order`, then refresh it.
    pub(super) async fn validate(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
    ) -> Result<(), EngineError> {
        let kind: ChallengeKind = record.challenge.parse().map_err(EngineError::Invalid)?;
        let offered = offered_challenges(order, kind)
            .await
            .map_err(|e| self.ca_failure(record, e))?;

        let mut records = Vec::new();
        for offer in &offered {
            records.push(self.present(record, kind, offer).await?);
        }
        for challenge in &records {
            self.wait_visible(challenge).await?;
        }
        crate::crashpoint::reach("challenges-presented").await;

        self.set_ready(record, order, kind).await?;
        crate::crashpoint::reach("validation-requested").await;
        let ca = self.ca_of(record)?;
        let polled = super::poll::Polled {
            order: &record.id,
            ca: &ca.name,
        };
        let status = self
            .limits()
            .poll_ready(order, &polled)
            .await
            .map_err(|failure| failure.into_engine_error(&ca))?;
        self.settle(record, order, &records, convert_status(status))
            .await?;
        self.cleanup_order(&record.id).await;
        Ok(())
    }

    fn ca_failure(&self, record: &OrderRecord, error: instant_acme::Error) -> EngineError {
        match self.ca_of(record) {
            Ok(ca) => EngineError::Acme(ca.ca_error(error)),
            Err(e) => e,
        }
    }

    /// Store the challenge record first (so a crash leaves it findable), then post it.
    async fn present(
        &self,
        order: &OrderRecord,
        kind: ChallengeKind,
        offer: &Offered,
    ) -> Result<ChallengeRecord, EngineError> {
        let existing = self
            .order_challenges(&order.id)?
            .into_iter()
            .find(|c| c.challenge_url == offer.url);
        let record = match existing {
            // Taken down when a driver stopped: stored as posted again before it is.
            Some(record) if record.cleaned_up => {
                self.store.update::<ChallengeRecord>(&record.id, |c| {
                    c.cleaned_up = false;
                    c.status = ChallengeStatus::NotReady;
                    c.error = None;
                })?
            }
            Some(record) => record,
            None => {
                let record = self.new_challenge(order, kind, offer);
                self.store.put(&record)?;
                record
            }
        };
        self.post(&record)
            .await
            .inspect_err(|e| self.fail(&record, e))?;
        Ok(record)
    }

    fn new_challenge(
        &self,
        order: &OrderRecord,
        kind: ChallengeKind,
        offer: &Offered,
    ) -> ChallengeRecord {
        let (provider, record_name, value) = match kind {
            ChallengeKind::Http01 => (
                "http-01".to_owned(),
                format!("/.well-known/acme-challenge/{}", offer.token),
                offer.key_authorization.clone(),
            ),
            ChallengeKind::Dns01 => (
                order.dns.clone().unwrap_or_else(|| "manual".into()),
                challenge_record_name(&offer.identifier),
                offer.dns_value.clone(),
            ),
        };
        ChallengeRecord {
            id: ChallengeRecord::new_id_for(&order.id),
            order_id: order.id.clone(),
            identifier: offer.identifier.clone(),
            kind: kind.as_str().to_owned(),
            provider,
            record_name,
            value,
            ttl: self.dns_ttl,
            token: offer.token.clone(),
            challenge_url: offer.url.clone(),
            status: ChallengeStatus::NotReady,
            error: None,
            cleaned_up: false,
            created_at: now(),
        }
    }

    async fn post(&self, record: &ChallengeRecord) -> Result<(), EngineError> {
        if record.kind == ChallengeKind::Http01.as_str() {
            self.board.add_http(&record.token, &record.value);
            return Ok(());
        }
        match DnsMethod::parse(&record.provider) {
            DnsMethod::Builtin => self.board.add_txt(&record.record_name, &record.value),
            DnsMethod::Manual => info!(
                name = %record.record_name, value = %record.value, ttl = record.ttl,
                "manual dns-01: create this TXT record; certkeeper checks for it"
            ),
            DnsMethod::Provider(p) => {
                let call = self
                    .plugins
                    .present(&p, &record.record_name, &record.value, record.ttl);
                call.await.map_err(|e| {
                    EngineError::Validation(format!(
                        "provider {p}: cannot create TXT {}: {e}",
                        record.record_name
                    ))
                })?;
            }
        }
        Ok(())
    }

    /// Put a live answer back on the board after a restart.
    pub(super) fn repost(&self, record: &ChallengeRecord) {
        if record.kind == ChallengeKind::Http01.as_str() {
            self.board.add_http(&record.token, &record.value);
        } else if record.provider == "builtin" {
            self.board.add_txt(&record.record_name, &record.value);
        }
    }

    /// Wait until the answer is visible where the CA will look, and mark the record Ready.
    async fn wait_visible(&self, record: &ChallengeRecord) -> Result<(), EngineError> {
        // Our own listeners answer from the board the moment it is posted; only records that
        // live on other servers need the authoritative check.
        let external = record.kind == ChallengeKind::Dns01.as_str() && record.provider != "builtin";
        if external {
            let wait = self
                .propagation
                .wait_until_visible(&record.record_name, &record.value);
            if let Err(error) = wait.await {
                let error = EngineError::Validation(format!("{}: {error}", record.record_name));
                self.fail(record, &error);
                return Err(error);
            }
        }
        self.mark(record, ChallengeStatus::Ready, None);
        Ok(())
    }

    async fn set_ready(
        &self,
        record: &OrderRecord,
        order: &mut instant_acme::Order,
        kind: ChallengeKind,
    ) -> Result<(), EngineError> {
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| self.ca_failure(record, e))?;
            if authz.status != AuthorizationStatus::Pending {
                continue;
            }
            let Some(mut challenge) = authz.challenge(challenge_type(kind)) else {
                continue;
            };
            // N.B. a challenge already being validated is left alone: driving an order again
            // (after a restart or a badNonce) must not ask twice, which CAs refuse.
            if challenge.status != AcmeChallengeStatus::Pending || self.was_answered(&challenge.url)
            {
                continue;
            }
            challenge
                .set_ready()
                .await
                .map_err(|e| self.ca_failure(record, e))?;
            self.answered
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(challenge.url.clone());
        }
        Ok(())
    }

    /// True when this process already asked the CA to validate the challenge at `url`.
    fn was_answered(&self, url: &str) -> bool {
        self.answered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(url)
    }

    /// Record what the CA decided about each challenge.
    async fn settle(
        &self,
        order_record: &OrderRecord,
        order: &mut instant_acme::Order,
        records: &[ChallengeRecord],
        status: crate::store::OrderStatus,
    ) -> Result<(), EngineError> {
        if status != crate::store::OrderStatus::Invalid {
            records
                .iter()
                .for_each(|r| self.mark(r, ChallengeStatus::Valid, None));
            return Ok(());
        }
        let mut authorizations = order.authorizations();
        while let Some(authz) = authorizations.next().await {
            let mut authz = authz.map_err(|e| self.ca_failure(order_record, e))?;
            let state = authz
                .refresh()
                .await
                .map_err(|e| self.ca_failure(order_record, e))?;
            for challenge in &state.challenges {
                let Some(rec) = records.iter().find(|r| r.challenge_url == challenge.url) else {
                    continue;
                };
                match &challenge.error {
                    Some(problem) => {
                        self.mark(rec, ChallengeStatus::Failed, Some(problem.to_string()))
                    }
                    None if state.status == AuthorizationStatus::Valid => {
                        self.mark(rec, ChallengeStatus::Valid, None);
                    }
                    None => {}
                }
            }
        }
        Ok(())
    }

    fn fail(&self, record: &ChallengeRecord, error: &EngineError) {
        warn!(%error, name = %record.record_name, provider = %record.provider, "challenge failed");
        self.mark(record, ChallengeStatus::Failed, Some(error.to_string()));
    }

    fn mark(&self, record: &ChallengeRecord, status: ChallengeStatus, error: Option<String>) {
        let result = self.store.update::<ChallengeRecord>(&record.id, |c| {
            c.status = status;
            c.error = error;
        });
        if let Err(error) = result {
            warn!(%error, challenge = %record.id, "cannot record challenge status");
        }
    }

    /// Take down every answer of an order that is still posted.
    pub(super) async fn cleanup_order(&self, order_id: &str) {
        let Ok(records) = self.order_challenges(order_id) else {
            return;
        };
        for record in records.iter().filter(|r| !r.cleaned_up) {
            self.cleanup(record).await;
        }
    }

    /// Take down one answer; a failure is logged and retried at the next start.
    pub(super) async fn cleanup(&self, record: &ChallengeRecord) {
        if record.kind == ChallengeKind::Http01.as_str() {
            self.board.remove_http(&record.token);
        } else {
            match DnsMethod::parse(&record.provider) {
                DnsMethod::Builtin => self.board.remove_txt(&record.record_name, &record.value),
                DnsMethod::Manual => info!(
                    name = %record.record_name, value = %record.value,
                    "manual dns-01: the TXT record may be removed now"
                ),
                DnsMethod::Provider(p) => {
                    let call = self.plugins.cleanup(&p, &record.record_name, &record.value);
                    if let Err(error) = call.await {
                        warn!(%error, provider = %p, name = %record.record_name, "cleanup failed; retried at next start");
                        return;
                    }
                }
            }
        }
        let _ = self
            .store
            .update::<ChallengeRecord>(&record.id, |c| c.cleaned_up = true);
    }
}

async fn offered_challenges(
    order: &mut instant_acme::Order,
    kind: ChallengeKind,
) -> Result<Vec<Offered>, instant_acme::Error> {
    let mut offered = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz?;
        if authz.status != AuthorizationStatus::Pending {
            continue;
        }
        let identifier = authz.identifier().to_string();
        let Some(challenge) = authz.challenge(challenge_type(kind)) else {
            return Err(instant_acme::Error::Other(
                format!(
                    "the CA offers no {} challenge for {identifier}",
                    kind.as_str()
                )
                .into(),
            ));
        };
        let key_authorization = challenge.key_authorization();
        offered.push(Offered {
            identifier,
            url: challenge.url.clone(),
            token: challenge.token.clone(),
            key_authorization: key_authorization.as_str().to_owned(),
            dns_value: key_authorization.dns_value(),
        });
    }
    Ok(offered)
}

fn challenge_type(kind: ChallengeKind) -> ChallengeType {
    match kind {
        ChallengeKind::Http01 => ChallengeType::Http01,
        ChallengeKind::Dns01 => ChallengeType::Dns01,
    }
}
