//! What a person does in the console, one test per story of issue 19's "Done when".

use crate::harness::Console;

/// Runs `story` on a fresh console unless the browser is missing (then SKIPPED).
macro_rules! in_browser {
    ($name:literal, |$c:ident| $body:block) => {{
        let Some($c) = Console::start($name).await else {
            return;
        };
        $body
        $c.close().await;
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_shows_people_with_holdings_and_billed_seats() {
    in_browser!("sign_in_shows_people_with_holdings_and_billed_seats", |c| {
        c.goto("/").await;
        c.wait_text("h1", "Sign in").await;
        c.check_and_capture("sign-in").await;
        c.sign_in(&c.org.owner_token).await;
        assert_eq!(c.text("#billed-seats").await, "6");
        let pat_row = c.text("table.people tbody tr:nth-child(5)").await;
        assert!(pat_row.contains("pat@truckpros.example"), "{pat_row}");
        assert!(pat_row.contains("10 buyer"), "{pat_row}");
        assert!(pat_row.contains("member"), "{pat_row}");
        c.check_and_capture("people").await;

        c.fill("#q", "ann").await;
        c.click("form[role=search] button").await;
        c.wait_text("p.count", "1 person").await;
        let url = c.browser.current_url().await.unwrap();
        assert!(
            !url.as_str().contains("ann"),
            "the search stays out of the URL: {url}"
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_time_link_signs_in_once_and_leaves_the_address_bar() {
    in_browser!(
        "a_one_time_link_signs_in_once_and_leaves_the_address_bar",
        |c| {
            let link = c.console_link("support:helpdesk").await;
            c.goto(&link).await;
            c.wait_text("h1", "People").await;
            let url = c.browser.current_url().await.unwrap();
            assert_eq!(url.path(), "/", "redirected to People: {url}");
            assert!(url.query().is_none(), "the secret left the URL: {url}");
            assert!(c.has("a[href='/support']").await, "signed in as support");
            c.click("form[action='/sign-out'] button").await;
            c.wait_text("h1", "Sign in").await;
            c.goto(&link).await;
            c.wait_text("#failure", "already used").await;
            assert!(c.has("#token").await, "the sign-in form is offered instead");
            c.check_and_capture("sign-in-link-used").await;
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_delete_shows_every_blocker_with_its_count() {
    in_browser!("a_blocked_delete_shows_every_blocker_with_its_count", |c| {
        c.sign_in(&c.org.owner_token).await;
        c.goto(&format!("/people/{}", c.org.pat)).await;
        c.wait_text("h1", "Pat Trucker").await;
        c.check_and_capture("person").await;
        c.fill("#delete-confirm", "CONFIRM").await;
        c.click("form[action$='/delete'] button").await;
        c.wait_text("#failure", "cannot delete").await;
        let failure = c.text("#failure").await;
        for blocker in ["owns 10 buyers", "dealer trade contact", "manages"] {
            assert!(
                failure.contains(blocker),
                "{blocker} missing from: {failure}"
            );
        }
        assert!(c.has("#failure a[href$='#owns-resources']").await);
        c.check_and_capture("person-blocked-delete").await;
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buyers_go_to_two_colleagues_after_a_preview_then_the_account_and_a_delete() {
    in_browser!(
        "buyers_go_to_two_colleagues_after_a_preview_then_the_account_and_a_delete",
        |c| {
            c.sign_in(&c.org.owner_token).await;
            c.goto(&format!("/people/{}", c.org.pat)).await;
            c.fill("#to1-buyer", "ann@truckpros.example").await;
            c.fill("#to2-buyer", "bob@truckpros.example").await;
            c.click("form.transfer button.secondary").await;
            c.wait_text("#preview", "Preview: buyer").await;
            let preview = c.text("#preview").await;
            assert!(preview.contains("ann@truckpros.example 5"), "{preview}");
            assert!(preview.contains("bob@truckpros.example 5"), "{preview}");
            c.check_and_capture("person-transfer-preview").await;

            c.fill("#to1-buyer", "ann@truckpros.example").await;
            c.fill("#to2-buyer", "bob@truckpros.example").await;
            c.click("form.transfer button:not(.secondary)").await;
            c.wait_text(".notice", "Done: transferred").await;
            assert!(!c.has("#to1-buyer").await, "Pat holds no buyer any more");

            c.fill("#account-to", "ann@truckpros.example").await;
            c.click("#account-then option[value=delete]").await;
            c.fill("#account-confirm", "CONFIRM").await;
            c.click("form[action$='/transfer-account'] button").await;
            c.wait_text(".notice", "account transferred").await;
            c.wait_text(".status", "deleted").await;

            // Support restores Pat with ownership: the preview first, then the restore.
            c.sign_in(&c.org.support_token).await;
            c.goto("/support").await;
            c.wait_text("#deleted", "pat@truckpros.example").await;
            assert!(c.text("#deleted").await.contains("30"), "days left");
            c.click("form.restore button.secondary").await;
            c.wait_text("#preview", "Restoring pat@truckpros.example")
                .await;
            let preview = c.text("#preview").await;
            assert!(preview.contains("Comes back as active"), "{preview}");
            c.check_and_capture("support").await;
            c.click("form.restore button:not(.secondary)").await;
            c.wait_text(".notice", "Restored").await;
            c.goto(&format!("/people/{}", c.org.pat)).await;
            c.wait_text(".status", "active").await;
            let duties = c.text("#duties-h + *").await;
            assert!(
                duties.contains("dealer_trade_contact"),
                "the duty came back: {duties}"
            );
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_sees_no_admin_action_and_a_forged_form_is_refused() {
    in_browser!(
        "a_member_sees_no_admin_action_and_a_forged_form_is_refused",
        |c| {
            c.sign_in(&c.org.member_token).await;
            assert!(!c.has("a[href='/audit']").await, "no Audit for a member");
            assert!(
                !c.has("a[href='/support']").await,
                "no Support for a member"
            );
            c.goto(&format!("/people/{}", c.org.pat)).await;
            c.wait_text("h1", "Pat Trucker").await;
            assert!(!c.has("#actions-h").await, "no admin actions for a member");
            assert!(!c.has("form.transfer").await, "no transfer for a member");
            c.check_and_capture("person-as-member").await;

            let path = format!("/people/{}/deactivate", c.org.pat);
            assert_eq!(c.post_from_page(&path, "csrf=forged").await, 403);
            assert_eq!(c.post_from_page(&path, "").await, 403);
            c.goto(&format!("/people/{}", c.org.pat)).await;
            c.wait_text(".status", "active").await;
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_finds_a_past_owner_and_the_operation_and_the_timeline_is_live() {
    in_browser!(
        "an_auditor_finds_a_past_owner_and_the_operation_and_the_timeline_is_live",
        |c| {
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            let before = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
            tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
            let moved = c
                .api_post(
                    &c.org.owner_token,
                    &format!("/v1/users/{}/transfer-all", c.org.pat),
                    serde_json::json!({"kind": "buyer", "to": ["ann@truckpros.example"]}),
                )
                .await;
            assert_eq!(moved, 200);

            c.sign_in(&c.org.auditor_token).await;
            assert!(
                !c.has("a[href='/support']").await,
                "no Support for an auditor"
            );
            c.goto(&format!("/audit/resources/buyer:B-1003?at={before}"))
                .await;
            c.wait_text("#owner-now", "ann@truckpros.example").await;
            c.wait_text("#owner-then", "pat@truckpros.example").await;
            c.check_and_capture("resource").await;
            c.click("#owners tbody tr:last-child a").await;
            c.wait_text("h1", "Operation").await;
            c.wait_text("#operation", "ann@truckpros.example").await;
            assert!(
                !c.has("form[action$='/revert']").await,
                "an auditor reads only"
            );
            c.check_and_capture("operation").await;

            c.goto("/audit/chain").await;
            c.click("form[action='/audit/chain'] button").await;
            c.wait_text("#verified", "Intact").await;

            c.goto("/audit").await;
            c.wait_text("#timeline", "ResourcesRegistered").await;
            c.check_and_capture("audit").await;
            let status = c
                .api_post(
                    &c.org.owner_token,
                    &format!("/v1/users/{}/deactivate", c.org.pat),
                    serde_json::json!({}),
                )
                .await;
            assert_eq!(status, 200);
            c.wait_text("#timeline", "UserDeactivated").await;
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guided_offboarding_is_one_command_and_support_restores_it_all() {
    in_browser!(
        "the_guided_offboarding_is_one_command_and_support_restores_it_all",
        |c| {
            c.sign_in(&c.org.owner_token).await;
            c.goto(&format!("/people/{}", c.org.pat)).await;
            c.click("#guided-link").await;
            c.wait_text("h1", "Offboard Pat").await;
            c.fill("#kind-buyer-to", "ann@truckpros.example").await;
            c.fill("#kind-buyer-to2", "bob@truckpros.example").await;
            c.fill("#default_to", "ann@truckpros.example").await;
            c.click("#then option[value=delete]").await;
            c.check_and_capture("guided").await;

            // Without the phrase the domain refuses: shown in place, values kept.
            c.click("#guided button[type=submit]").await;
            c.wait_text("#failure", "CONFIRM").await;
            let kept = c
                .element("#kind-buyer-to2")
                .await
                .prop("value")
                .await
                .unwrap();
            assert_eq!(kept.as_deref(), Some("bob@truckpros.example"));

            c.fill("#confirm", "CONFIRM").await;
            c.click("#guided button[type=submit]").await;
            c.wait_text(".notice", "Offboarded in one operation").await;

            c.sign_in(&c.org.support_token).await;
            c.goto("/support").await;
            c.click("form.restore button:not(.secondary)").await;
            c.wait_text(".notice", "Restored").await;
            c.goto(&format!("/people/{}", c.org.pat)).await;
            c.wait_text(".status", "active").await;
            c.wait_text("#holdings-h + table", "10").await;
        }
    );
}
