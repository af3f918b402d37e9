//! Where HTTP callbacks may come from (`dingtalk.callback_allow_cidrs`).
//!
//! DingTalk's callback signature covers only the timestamp, so a leaked `timestamp`/`sign`
//! pair authorizes any body for the whole window. An allow-list of source networks closes
//! that gap for deployments that know where callbacks come from. Behind a reverse proxy
//! the peer is the proxy, so `X-Forwarded-For` is read, but only from proxies listed in
//! `dingtalk.trusted_proxy_cidrs`; from anyone else the header is a claim and ignored.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::config::DingTalkConfig;

/// Parses `203.0.113.0/24`, `2001:db8::/32` or a bare address (a /32 or /128).
pub fn parse_net(text: &str) -> Option<IpNet> {
    let t = text.trim();
    t.parse::<IpNet>()
        .ok()
        .or_else(|| t.parse::<IpAddr>().ok().map(IpNet::from))
}

/// The compiled allow-list and trusted proxies.
#[derive(Debug, Clone, Default)]
pub struct CallbackSources {
    allow: Vec<IpNet>,
    proxies: Vec<IpNet>,
}

impl CallbackSources {
    /// From a validated configuration (invalid entries were refused by `validate`).
    pub fn from_config(c: &DingTalkConfig) -> CallbackSources {
        CallbackSources {
            allow: c
                .callback_allow_cidrs
                .iter()
                .filter_map(|s| parse_net(s))
                .collect(),
            proxies: c
                .trusted_proxy_cidrs
                .iter()
                .filter_map(|s| parse_net(s))
                .collect(),
        }
    }

    /// Whether a callback from `peer` (with these headers) may be processed.
    pub fn allows(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> bool {
        if self.allow.is_empty() {
            return true;
        }
        match self.client(peer, headers) {
            Some(ip) => self.allow.iter().any(|n| n.contains(&ip)),
            None => false,
        }
    }

    /// The address the request came from: the peer, or, when the peer is a trusted
    /// proxy, the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
    fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        let trusted = |ip: &IpAddr| self.proxies.iter().any(|n| n.contains(ip));
        if !trusted(&peer) {
            return Some(peer);
        }
        let chain: Vec<IpAddr> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().parse::<IpAddr>().ok())
            .collect::<Option<Vec<_>>>()?;
        chain
            .into_iter()
            .rev()
            .find(|ip| !trusted(ip))
            .or(Some(peer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(allow: &[&str], proxies: &[&str]) -> CallbackSources {
        let c = DingTalkConfig {
            callback_allow_cidrs: allow.iter().map(|s| s.to_string()).collect(),
            trusted_proxy_cidrs: proxies.iter().map(|s| s.to_string()).collect(),
            ..DingTalkConfig::default()
        };
        CallbackSources::from_config(&c)
    }

    fn xff(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Ok(v) = v.parse() {
            h.insert("x-forwarded-for", v);
        }
        h
    }

    fn ip(s: &str) -> Option<IpAddr> {
        s.parse().ok()
    }

    #[test]
    fn only_listed_networks_are_allowed() {
        let s = sources(&["203.0.113.0/24", "2001:db8::1"], &[]);
        assert!(s.allows(ip("203.0.113.9"), &HeaderMap::new()));
        assert!(s.allows(ip("2001:db8::1"), &HeaderMap::new()));
        assert!(!s.allows(ip("198.51.100.1"), &HeaderMap::new()));
        assert!(!s.allows(None, &HeaderMap::new()));
        // A forwarded-for header from an untrusted peer is a claim, not an address.
        assert!(!s.allows(ip("198.51.100.1"), &xff("203.0.113.9")));
        assert!(sources(&[], &[]).allows(ip("198.51.100.1"), &HeaderMap::new()));
    }

    #[test]
    fn behind_a_trusted_proxy_the_forwarded_address_counts() {
        let s = sources(&["203.0.113.0/24"], &["10.0.0.0/8"]);
        assert!(s.allows(ip("10.1.2.3"), &xff("203.0.113.9")));
        // The client can prepend anything; the right-most untrusted entry is what the
        // proxy saw.
        assert!(!s.allows(ip("10.1.2.3"), &xff("203.0.113.9, 198.51.100.7")));
        assert!(s.allows(ip("10.1.2.3"), &xff("198.51.100.7, 203.0.113.9, 10.0.0.2")));
        assert!(!s.allows(ip("10.1.2.3"), &xff("not-an-ip")));
        assert_eq!(parse_net("nonsense"), None);
    }
}
