//! The browser tests' harness: a seeded org served on 127.0.0.1 by the library's own
//! server, a `chromedriver` on a free loopback port, and a headless Chromium session,
//! with helpers to sign in, run axe-core and take screenshots.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use offboard::domain::{Command as Cmd, NewUser};
use offboard::server::{self, tokens, ServerOptions};
use offboard::{CommandMeta, Engine};
use offboard_events::{Actor, Event, OrgId, PrincipalKind, ResourceKey, Role, UserId};
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// axe-core 4.10.2 from the npm registry, pinned (licence beside it).
const AXE: &str = include_str!("vendor/axe-core-4.10.2.min.js");

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(20);

/// `chromedriver` on the PATH, or `None` after a loud SKIPPED line; with
/// `OFFBOARD_REQUIRE_BROWSER=1`, absence fails the test.
pub fn chromedriver(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("OFFBOARD_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "OFFBOARD_REQUIRE_BROWSER=1 but chromedriver is not on the PATH \
             (apt-get install chromium chromium-driver)"
        );
        eprintln!(
            "\n*** SKIPPED {test}: chromedriver is not on the PATH \
             (apt-get install chromium chromium-driver to run the console's browser tests) ***\n"
        );
    }
    found
}

/// The seeded org: Truck Pros (seed 000) with an owner, a manager, Pat (10 buyers, a
/// duty, a report), Ann and Bob, support and an auditor; tokens for the owner, Bob
/// (a member), support and the auditor.
#[derive(Debug)]
pub struct Org {
    pub pat: UserId,
    pub owner_token: String,
    pub member_token: String,
    pub support_token: String,
    pub auditor_token: String,
}

async fn run(engine: &Engine, org: OrgId, actor: Actor, command: Cmd) -> Vec<Event> {
    let appended = engine
        .execute(CommandMeta::new(org, actor), command)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (first, last) = appended.positions.expect("appended");
    engine
        .read_range(first, last)
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

fn new_user(email: &str, first: &str) -> NewUser {
    NewUser {
        email: email.to_owned(),
        first_name: first.to_owned(),
        last_name: "Trucker".to_owned(),
        job_title: None,
        external_id: None,
        department: None,
        employee_number: None,
        user_name: None,
    }
}

/// Seeds `engine` with [`Org`].
pub async fn seed(engine: &Engine) -> Org {
    let id = OrgId::new();
    let created = run(
        engine,
        id,
        Actor::System,
        Cmd::CreateOrganization {
            name: "Truck Pros".into(),
            owner: new_user("olive@truckpros.example", "Olive"),
        },
    )
    .await;
    let owner = created
        .iter()
        .find_map(|e| match e {
            Event::OrganizationCreated(c) => Some(c.owner),
            _ => None,
        })
        .expect("the org's owner");
    let as_owner = Actor::User { id: owner };
    let hire = async |email: &str, first: &str, role: Role, manager: Option<UserId>| {
        let events = run(
            engine,
            id,
            as_owner.clone(),
            Cmd::InviteUser {
                user: new_user(email, first),
                role,
                manager,
                active: true,
            },
        )
        .await;
        events
            .iter()
            .find_map(|e| match e {
                Event::UserInvited(i) => Some(i.user_id),
                _ => None,
            })
            .expect("invited")
    };
    let sam = hire("sam@truckpros.example", "Sam", Role::Manager, None).await;
    let pat = hire("pat@truckpros.example", "Pat", Role::Member, Some(sam)).await;
    let _ann = hire("ann@truckpros.example", "Ann", Role::Member, Some(sam)).await;
    let _bob = hire("bob@truckpros.example", "Bob", Role::Member, None).await;
    let _mia = hire("mia@truckpros.example", "Mia", Role::Member, Some(pat)).await;
    let keys: Vec<ResourceKey> = (1001..=1010)
        .map(|n| format!("buyer:B-{n}").parse().unwrap())
        .collect();
    run(
        engine,
        id,
        as_owner.clone(),
        Cmd::RegisterResources {
            owner: pat,
            resources: keys,
        },
    )
    .await;
    run(
        engine,
        id,
        as_owner.clone(),
        Cmd::AssignDuty {
            duty: "dealer_trade_contact".into(),
            to: pat,
        },
    )
    .await;
    for (kind, name) in [
        (PrincipalKind::Support, "helpdesk"),
        (PrincipalKind::Auditor, "audit-firm"),
    ] {
        run(
            engine,
            id,
            as_owner.clone(),
            Cmd::RegisterPrincipal {
                kind,
                name: name.into(),
            },
        )
        .await;
    }
    let token = |principal: &str| {
        tokens::create(engine, Some("Truck Pros"), principal)
            .expect("a token")
            .token
    };
    Org {
        pat,
        owner_token: token("olive@truckpros.example"),
        member_token: token("bob@truckpros.example"),
        support_token: token("support:helpdesk"),
        auditor_token: token("auditor:audit-firm"),
    }
}

/// A served, seeded org and a browser pointed at it; stops both when dropped.
pub struct Console {
    pub org: Org,
    pub url: String,
    pub browser: Client,
    driver: Child,
    stop: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl Console {
    /// Seeds an org, serves it on 127.0.0.1 and opens a headless Chromium at 1280×800;
    /// `None` when there is no chromedriver (see [`chromedriver`]).
    pub async fn start(test: &str) -> Option<Self> {
        let driver_path = chromedriver(test)?;
        let engine = Engine::in_memory();
        let org = seed(&engine).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(server::serve_listener(
            engine,
            listener,
            ServerOptions::default(),
            async move {
                let _ = stopped.await;
            },
        ));
        let (driver, port) = spawn_driver(&driver_path);
        let browser = connect(port).await;
        Some(Self {
            org,
            url: format!("http://{addr}"),
            browser,
            driver,
            stop: Some(stop),
        })
    }

    /// Goes to `path` on the console.
    pub async fn goto(&self, path: &str) {
        self.browser
            .goto(&format!("{}{path}", self.url))
            .await
            .unwrap();
    }

    /// Signs in with `token` through the sign-in form; lands on People.
    pub async fn sign_in(&self, token: &str) {
        self.goto("/sign-in").await;
        self.fill("#token", token).await;
        self.click("form[action='/sign-in'] button").await;
        self.wait_text("h1", "People").await;
    }

    /// The first element `css` finds, waiting for it.
    pub async fn element(&self, css: &str) -> Element {
        self.browser
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css}: {e}"))
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.element(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    pub async fn click(&self, css: &str) {
        self.element(css).await.click().await.unwrap();
    }

    /// The text of the first element `css` finds.
    pub async fn text(&self, css: &str) -> String {
        self.element(css).await.text().await.unwrap()
    }

    /// Whether any element matches `css` now.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .browser
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    /// Waits until the first element `css` finds holds `text`.
    pub async fn wait_text(&self, css: &str, text: &str) {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.browser.find(Locator::Css(css)).await {
                if element.text().await.unwrap_or_default().contains(text) {
                    return;
                }
            }
            if started.elapsed() > PATIENCE {
                let source = self.browser.source().await.unwrap_or_default();
                panic!("{css} never held {text:?}; the page:\n{source}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// axe-core's serious and critical violations on the current page (WCAG 2 A and
    /// AA rules and best practices), as `rule: nodes` lines.
    pub async fn accessibility_violations(&self) -> Vec<String> {
        self.browser.execute(AXE, Vec::new()).await.unwrap();
        let found = self
            .browser
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document).then(r => done(r.violations), e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));",
                Vec::new(),
            )
            .await
            .unwrap();
        found
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
            .map(|v| {
                let nodes: Vec<&str> = v["nodes"]
                    .as_array()
                    .map(|n| n.iter().filter_map(|n| n["html"].as_str()).collect())
                    .unwrap_or_default();
                format!("{} ({}): {}", v["id"], v["help"], nodes.join(" | "))
            })
            .collect()
    }

    /// Asserts axe-core finds nothing serious or critical, then saves the page at
    /// desktop (1280×800) and phone (390 px wide) sizes as `NAME-desktop.png` and
    /// `NAME-phone.png`.
    pub async fn check_and_capture(&self, name: &str) {
        let violations = self.accessibility_violations().await;
        assert!(
            violations.is_empty(),
            "{name}: axe-core found:\n{}",
            violations.join("\n")
        );
        let dir = screenshots();
        for (size, (w, h)) in [("desktop", (1280, 800)), ("phone", (390, 844))] {
            self.browser.set_window_size(w, h).await.unwrap();
            let png = self.browser.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{size}.png")), png).unwrap();
        }
        self.browser.set_window_size(1280, 800).await.unwrap();
        let violations = self.accessibility_violations().await;
        assert!(
            violations.is_empty(),
            "{name} (after resizing): {}",
            violations.join("\n")
        );
    }

    /// POSTs `body` (form-encoded) to `path` from the page, with the session's cookie;
    /// returns the status.
    pub async fn post_from_page(&self, path: &str, body: &str) -> u64 {
        let status = self
            .browser
            .execute_async(
                "const [path, body, done] = arguments;
                 fetch(path, {method: 'POST', body, credentials: 'same-origin',
                              headers: {'Content-Type': 'application/x-www-form-urlencoded'}})
                   .then(r => done(r.status), e => done(String(e)));",
                vec![json!(path), json!(body)],
            )
            .await
            .unwrap();
        status
            .as_u64()
            .unwrap_or_else(|| panic!("fetch failed: {status}"))
    }

    /// POSTs `body` as JSON to the API at `path` with `token` (another person acting
    /// while the browser watches); returns the status.
    pub async fn api_post(&self, token: &str, path: &str, body: Value) -> u16 {
        reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// A one-time sign-in link for `principal`, minted by the owner over the API
    /// (`offboard console-link` in client mode does the same): its path.
    pub async fn console_link(&self, principal: &str) -> String {
        let created: Value = reqwest::Client::new()
            .post(format!("{}/v1/console-links", self.url))
            .bearer_auth(&self.org.owner_token)
            .json(&json!({ "principal": principal }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        created["path"].as_str().unwrap().to_owned()
    }

    /// Closes the browser, the driver and the server.
    pub async fn close(mut self) {
        let browser = self.browser.clone();
        let _ = browser.close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Where screenshots go: `target/console-screenshots/`.
pub fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    listener.local_addr().unwrap().port()
}

fn spawn_driver(path: &Path) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    (child, port)
}

async fn connect(port: u16) -> Client {
    let mut capabilities = serde_json::Map::new();
    let mut chrome = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,800", "--hide-scrollbars"]
    });
    if Path::new("/usr/bin/chromium").exists() {
        chrome["binary"] = Value::from("/usr/bin/chromium");
    }
    capabilities.insert("goog:chromeOptions".into(), chrome);
    let started = Instant::now();
    loop {
        let attempt = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await;
        match attempt {
            Ok(client) => return client,
            Err(e) if started.elapsed() > PATIENCE => panic!("no WebDriver session: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}
