//! What a subscription may reach (server-side request forgery): `https://` only, except
//! `http://` to loopback when allowed; no private, loopback, link-local, shared, metadata
//! or otherwise special address unless allowed. A URL is checked when it is added, and
//! every delivery resolves its host through [`GuardedResolver`], which checks **every**
//! address the name resolves to (a name that also resolves to a private address is
//! refused as a whole), and the request connects only to what was checked, so a DNS
//! answer that changes after the subscription was added (rebinding) gains nothing.
//! Redirects are never followed (see `delivery`).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

use super::WebhookOptions;

/// The longest URL a subscription may have, in bytes: what browsers and most servers
/// accept; a subscription's URL is shown in every list and kept in a file rewritten
/// whole at each change.
pub const MAX_URL_LEN: usize = 2_048;

/// Checks a subscription's URL; returns it parsed.
///
/// # Errors
/// A sentence saying why the URL is refused: not a URL, longer than [`MAX_URL_LEN`],
/// credentials in it, a scheme other than `https` (or `http` to loopback when allowed),
/// or a literal address [`check_addr`] refuses.
pub fn check_url(url: &str, options: &WebhookOptions) -> Result<Url, String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!(
            "the URL is {} bytes long; at most {MAX_URL_LEN} are accepted",
            url.len()
        ));
    }
    let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    // As sent: a non-ASCII path grows when percent-encoded.
    if parsed.as_str().len() > MAX_URL_LEN {
        return Err(format!(
            "the URL is {} bytes long once encoded; at most {MAX_URL_LEN} are accepted",
            parsed.as_str().len()
        ));
    }
    if parsed.port() == Some(0) {
        return Err("port 0 is no receiver's port".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Every list and show would print them; receivers check the signature instead.
        return Err("the URL carries credentials (user:password@), which every list of subscriptions would show; receivers authenticate offboard by the webhook-signature header".into());
    }
    let host = parsed
        .host_str()
        .ok_or("the URL has no host")?
        .trim_matches(['[', ']']);
    let literal = host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    let loopback =
        host.eq_ignore_ascii_case("localhost") || literal.is_some_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if options.allow_http_loopback && loopback => {}
        "http" if loopback => {
            return Err("http:// is only accepted for loopback receivers with --allow-http-webhooks; use https://".into())
        }
        "http" => return Err("webhook URLs must be https://".into()),
        other => return Err(format!("webhook URLs must be https://, not {other}://")),
    }
    if let Some(ip) = literal {
        check_addr(ip, options)?;
    }
    Ok(parsed)
}

/// Whether `ip` may be reached.
///
/// # Errors
/// A sentence naming the kind of address refused.
pub fn check_addr(ip: IpAddr, options: &WebhookOptions) -> Result<(), String> {
    // An IPv4-mapped address (::ffff:a.b.c.d) is the IPv4 address it maps.
    let ip = ip.to_canonical();
    if ip.is_loopback() && (options.allow_http_loopback || options.allow_private) {
        return Ok(());
    }
    let kind = match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    };
    match kind {
        None => Ok(()),
        // Never a target, even inside the network.
        Some("an unspecified" | "a multicast" | "the broadcast") => Err(format!(
            "{ip} is not an address a webhook can be delivered to"
        )),
        Some(_) if options.allow_private => Ok(()),
        Some(kind) => Err(format!(
            "{ip} is {kind} address; webhooks reach public addresses only (--allow-private-webhooks lifts this for receivers inside the network)"
        )),
    }
}

/// The kind of a special IPv4 address, with its article (IANA's special-purpose
/// registry, RFC 6890); `None` for a public one.
fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        "a loopback"
    } else if ip.is_link_local() {
        // 169.254.169.254 is the cloud metadata service.
        "a link-local (metadata)"
    } else if ip.is_private() {
        "a private"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT)"
    } else if ip.is_unspecified() || a == 0 {
        "an unspecified"
    } else if ip.is_multicast() {
        "a multicast"
    } else if ip.is_broadcast() {
        "the broadcast"
    } else if a >= 240
        || ip.is_documentation()
        || (a == 192 && b == 0)
        || (a == 192 && b == 88 && ip.octets()[2] == 99)
        || (a == 198 && (18..20).contains(&b))
    {
        // 192.88.99/24: the deprecated 6to4 relay anycast (RFC 7526).
        "a reserved"
    } else {
        return None;
    })
}

/// The kind of a special IPv6 address, with its article (IANA's IPv6 special-purpose
/// registry); `None` for a public one. IPv4-mapped addresses arrive as IPv4.
fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(if ip.is_loopback() {
        "a loopback"
    } else if ip.is_unspecified() {
        "an unspecified"
    } else if ip.is_unicast_link_local() {
        "a link-local"
    } else if ip.is_unique_local() {
        // fd00:ec2::254 is a metadata service too.
        "a private (unique local)"
    } else if s[0] & 0xffc0 == 0xfec0 {
        // fec0::/10, deprecated (RFC 3879) but still routed inside some networks.
        "a private (site-local)"
    } else if ip.is_multicast() {
        "a multicast"
    } else if s[..4] == [0; 4] || s[0] == 0x0064 && s[1] == 0xff9b || s[0] == 0x2002 {
        // ::/64 — ::a.b.c.d (IPv4-compatible, deprecated), ::ffff:0:a.b.c.d
        // (IPv4-translated) among them — NAT64 and 6to4: each embeds an IPv4 address a
        // host may still reach.
        "a reserved (IPv4-embedding)"
    } else if s[0] == 0x2001 && (s[1] < 0x0200 || s[1] == 0x0db8)
        || s[0] == 0x0100 && s[1..4] == [0; 3]
        || s[0] == 0x3fff && s[1] & 0xf000 == 0
        || s[0] == 0x5f00
    {
        // 2001::/23 (IETF protocol assignments, Teredo among them), documentation
        // (2001:db8::/32 and 3fff::/20, RFC 9637), discard-only (100::/64), SRv6 SIDs
        // (5f00::/16, RFC 9602).
        "a reserved"
    } else {
        return None;
    })
}

/// The delivery client's resolver: the system's, then [`check_addr`] on every address.
#[derive(Debug)]
pub struct GuardedResolver {
    pub options: WebhookOptions,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let options = self.options;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            for addr in &addrs {
                check_addr(addr.ip(), &options)?;
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_to_public_addresses_unless_allowed() {
        let strict = WebhookOptions::default();
        let local = WebhookOptions {
            allow_http_loopback: true,
            ..strict
        };
        assert!(check_url("https://crm.example.com/hook", &strict).is_ok());
        assert!(check_url("https://93.184.215.14/hook", &strict).is_ok());
        for refused in [
            "http://crm.example.com/hook",
            "ftp://crm.example.com/",
            "http://127.0.0.1:9000/",
            "https://127.0.0.1/",
            "https://10.1.2.3/",
            "https://192.168.0.10/",
            "https://172.16.0.1/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[::1]/",
            "https://[fe80::1]/",
            "https://[fd00:ec2::254]/",
            "https://[::ffff:10.0.0.1]/",
            "https://100.64.0.1/",
            "https://0.0.0.0/",
            "not a url",
            // Found by a tester: IPv4-compatible, IPv4-translated, site-local.
            "https://[::169.254.169.254]/",
            "https://[::10.0.0.1]/",
            "https://[::127.0.0.1]/",
            "https://[::ffff:0:7f00:1]/",
            "https://[fec0::1]/",
            "https://[64:ff9b::a00:1]/",
            "https://[2001::1]/",
            "https://user:pw@crm.example.com/hook",
            "https://token@crm.example.com/hook",
            "https://192.88.99.1/",
            "https://[3fff::1]/",
            "https://[5f00::1]/",
            "https://crm.example.com:0/hook",
        ] {
            assert!(check_url(refused, &strict).is_err(), "{refused} accepted");
        }
        assert!(check_url("http://127.0.0.1:9000/", &local).is_ok());
        assert!(check_url("http://localhost:9000/", &local).is_ok());
        assert!(check_url("http://[::ffff:127.0.0.1]:9000/", &local).is_ok());
        assert!(check_url("http://crm.example.com/", &local).is_err());
        let long = format!("https://crm.example.com/{}", "a".repeat(MAX_URL_LEN));
        assert!(check_url(&long, &strict)
            .unwrap_err()
            .contains("at most 2048"));
        // 2,020 bytes typed, about 6,000 once percent-encoded (a tester's case).
        let wide = format!("https://crm.example.com/{}", "é".repeat(1_000));
        assert!(check_url(&wide, &strict)
            .unwrap_err()
            .contains("once encoded"));
        assert!(check_url("https://[2606:4700::6810:84e5]/hook", &strict).is_ok());
        let message = check_url("https://240.0.0.1/", &strict).unwrap_err();
        assert!(message.contains("is a reserved address"), "{message}");
        let message = check_url("https://255.255.255.255/", &strict).unwrap_err();
        assert!(message.contains("not an address a webhook"), "{message}");
        assert!(check_url("https://10.1.2.3/", &local).is_err());
        let private = WebhookOptions {
            allow_private: true,
            ..strict
        };
        assert!(check_url("https://10.1.2.3/", &private).is_ok());
        assert!(check_url("https://0.0.0.0/", &private).is_err());
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_with_any_refused_address() {
        let resolver = GuardedResolver {
            options: WebhookOptions::default(),
        };
        let refused = resolver.resolve("localhost".parse().unwrap()).await;
        assert!(refused.is_err());
        let allowed = GuardedResolver {
            options: WebhookOptions {
                allow_http_loopback: true,
                ..WebhookOptions::default()
            },
        };
        let addrs: Vec<_> = allowed
            .resolve("localhost".parse().unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
