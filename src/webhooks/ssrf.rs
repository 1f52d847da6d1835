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

/// Checks a subscription's URL; returns it parsed.
///
/// # Errors
/// A sentence saying why the URL is refused.
pub fn check_url(url: &str, options: &WebhookOptions) -> Result<Url, String> {
    let parsed = Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    let host = parsed
        .host_str()
        .ok_or("the URL has no host")?
        .trim_matches(['[', ']']);
    let literal = host.parse::<IpAddr>().ok();
    let loopback =
        host.eq_ignore_ascii_case("localhost") || literal.is_some_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => {}
        "http" if options.allow_http_loopback && loopback => {}
        "http" if loopback => {
            return Err("http:// is only accepted for loopback receivers when the server runs with --allow-http-webhooks; use https://".into())
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
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    };
    if ip.is_loopback() && (options.allow_http_loopback || options.allow_private) {
        return Ok(());
    }
    let kind = match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    };
    match kind {
        None => Ok(()),
        Some(kind) if options.allow_private && kind != "unspecified" && kind != "multicast" => {
            Ok(())
        }
        Some(kind) => Err(format!(
            "{ip} is a {kind} address; webhooks reach public addresses only (serve --allow-private-webhooks lifts this for receivers inside the network)"
        )),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_link_local() {
        // 169.254.169.254 is the cloud metadata service.
        "link-local (metadata)"
    } else if ip.is_private() {
        "private"
    } else if a == 100 && (64..128).contains(&b) {
        "shared (carrier-grade NAT)"
    } else if ip.is_unspecified() || a == 0 {
        "unspecified"
    } else if ip.is_multicast() || ip.is_broadcast() || a >= 240 {
        "multicast"
    } else if ip.is_documentation() || (a == 192 && b == 0) || (a == 198 && (18..20).contains(&b)) {
        "reserved"
    } else {
        return None;
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(if ip.is_loopback() {
        "loopback"
    } else if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_unicast_link_local() {
        "link-local"
    } else if ip.is_unique_local() {
        // fd00:ec2::254 is a metadata service too.
        "private (unique local)"
    } else if ip.is_multicast() {
        "multicast"
    } else if first == 0x2001 && ip.segments()[1] == 0x0db8 || first == 0x64 || first == 0x2002 {
        "reserved"
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
        ] {
            assert!(check_url(refused, &strict).is_err(), "{refused} accepted");
        }
        assert!(check_url("http://127.0.0.1:9000/", &local).is_ok());
        assert!(check_url("http://localhost:9000/", &local).is_ok());
        assert!(check_url("http://crm.example.com/", &local).is_err());
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
