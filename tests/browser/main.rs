//! The web console in a real browser: Debian's `chromium` driven through
//! `chromium-driver` (WebDriver, the `fantoccini` client) against a real `offboard
//! serve` on 127.0.0.1. Each test signs in, does what a person would, checks the page
//! with axe-core (vendored, pinned: zero serious or critical violations) and saves
//! screenshots (desktop 1280×800, phone 390 px) to `target/console-screenshots/`
//! (copied by hand to `docs/` when the pages change).
//!
//! Without `chromedriver` on the PATH the tests print a loud SKIPPED line and pass,
//! unless `OFFBOARD_REQUIRE_BROWSER=1` (CI sets it), which makes absence a failure.

mod harness;
mod scenarios;
