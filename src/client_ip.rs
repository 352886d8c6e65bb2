//! The address per-IP limits count against: the peer, or, behind a trusted reverse proxy
//! (`TRUST_PROXY`), the address that proxy saw.

use std::net::IpAddr;

use actix_web::dev::ServiceRequest;

/// Whether an address can be a reverse proxy of this install: on this machine or a private network.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| internal(IpAddr::V4(v4)))
        }
    }
}

/// The last `X-Forwarded-For` entry, the one the proxy itself appended (earlier entries are
/// whatever the client chose to send).
fn forwarded_for(req: &ServiceRequest) -> Option<IpAddr> {
    let mut last = None;
    for value in req.headers().get_all("x-forwarded-for") {
        last = value.to_str().ok()?.rsplit(',').next().map(str::trim);
    }
    last?.parse().ok()
}

pub fn client_ip(req: &ServiceRequest, trust_proxy: bool) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip())?;
    if trust_proxy && internal(peer) {
        return forwarded_for(req).or(Some(peer));
    }
    Some(peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn req(peer: &str, xff: &[&str]) -> ServiceRequest {
        let mut r = TestRequest::default().peer_addr(peer.parse().unwrap());
        for v in xff {
            r = r.append_header(("X-Forwarded-For", *v));
        }
        r.to_srv_request()
    }

    #[test]
    fn forwarded_address_only_from_a_trusted_internal_proxy() {
        let via_proxy = req("127.0.0.1:5000", &["6.6.6.6, 203.0.113.9"]);
        assert_eq!(
            client_ip(&via_proxy, true),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            client_ip(&via_proxy, false),
            Some("127.0.0.1".parse().unwrap())
        );
        // A public peer's header is the client's own claim.
        let direct = req("198.51.100.7:5000", &["10.0.0.1"]);
        assert_eq!(
            client_ip(&direct, true),
            Some("198.51.100.7".parse().unwrap())
        );
        // Several headers: the last one is the proxy's.
        let two = req("10.1.2.3:1", &["1.1.1.1", "203.0.113.5"]);
        assert_eq!(client_ip(&two, true), Some("203.0.113.5".parse().unwrap()));
        // Garbage falls back to the peer.
        let junk = req("10.1.2.3:1", &["not an ip"]);
        assert_eq!(client_ip(&junk, true), Some("10.1.2.3".parse().unwrap()));
    }
}
