//! E-mail for notifications, through the department's SMTP server. A
//! notification is written with its e-mail marked as waiting, in the same
//! transaction as what it is about; the log keeper's round sends what is
//! waiting, so a slow or absent mail server never holds up a request, and
//! an e-mail that fails is tried again (up to `GIVE_UP` times). Each is
//! claimed before it is sent, so of several servers only one sends it.
//!
//! Messages carry no case material: who did what to which request, and a
//! pointer to Precinct. Users' addresses are their user names at the
//! department's mail domain.

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use precinct_store::Store;

/// Attempts before an e-mail is given up (the notification stays in-app).
const GIVE_UP: i64 = 5;

/// How to reach the SMTP server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    /// `none` (a relay on the local network), `starttls` or `tls`.
    pub security: String,
    pub from: String,
    /// Users are mailed at `username@domain`.
    pub domain: String,
}

#[derive(Debug, Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    domain: String,
}

impl Mailer {
    pub fn new(s: &MailSettings) -> Result<Self, String> {
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| format!("mail.from is not an address: {e}"))?;
        if s.domain.is_empty() || s.domain.contains(['@', ' ']) {
            return Err("mail.domain must be a domain name".into());
        }
        let tls =
            |host: &str| TlsParameters::new(host.to_owned()).map_err(|e| format!("mail TLS: {e}"));
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&s.host).port(s.port);
        let builder = match s.security.as_str() {
            "none" => builder.tls(Tls::None),
            "starttls" => builder.tls(Tls::Required(tls(&s.host)?)),
            "tls" => builder.tls(Tls::Wrapper(tls(&s.host)?)),
            other => {
                return Err(format!(
                    "mail.security must be none, starttls or tls, not {other:?}"
                ))
            }
        };
        Ok(Self {
            transport: builder
                .timeout(Some(std::time::Duration::from_secs(10)))
                .build(),
            from,
            domain: s.domain.clone(),
        })
    }

    /// Sends the e-mail of waiting notifications; failures are logged
    /// (without the message) and retried on the next round.
    pub async fn send_waiting(&self, store: &Store) {
        let waiting = match store.pending_mail(50).await {
            Ok(w) => w,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the mail queue");
                return;
            }
        };
        for m in waiting {
            match store.claim_mail(&m.id).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(error = %e, "could not claim an e-mail");
                    continue;
                }
            }
            let sent = self.send(&m.to_name, &m.to_username, &m.message).await;
            if let Err(e) = &sent {
                tracing::warn!(error = %e, attempts = m.attempts + 1, "an e-mail could not be sent");
            }
            if let Err(e) = store.mail_attempted(&m.id, sent.is_ok(), GIVE_UP).await {
                tracing::warn!(error = %e, "could not record an e-mail attempt");
            }
        }
    }

    async fn send(&self, name: &str, username: &str, text: &str) -> Result<(), String> {
        let to: Mailbox = format!(
            "{} <{}@{}>",
            name.replace(['<', '>', '"'], ""),
            username,
            self.domain
        )
        .parse()
        .map_err(|e| format!("recipient: {e}"))?;
        let body = format!(
            "{text}\r\n\r\nOpen Precinct at a designated workstation or on your department device to see it.\r\n\
             This message carries no case material.\r\n"
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("Precinct: {}", first_words(text)))
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| e.to_string())?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The subject: the text's first 60 characters.
fn first_words(text: &str) -> String {
    let mut s: String = text.chars().take(60).collect();
    if text.chars().count() > 60 {
        s.push('…');
    }
    s
}
