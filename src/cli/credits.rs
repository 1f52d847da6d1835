//! Credits (R20): `credits add|grant|use|transfer|show`.

use serde_json::json;

use super::args::CreditsCmd;
use super::error::CliError;

use super::{resolve, Ctx};
use crate::domain::Command;
use crate::read::CreditsQuery;

pub fn credits(cx: &mut Ctx, c: &CreditsCmd) -> Result<(), CliError> {
    let command = match c {
        CreditsCmd::Add { amount } => Command::AddCreditsToPool { amount: *amount },
        CreditsCmd::Grant { user, amount } => Command::GrantCredits {
            user: cx.user(user)?,
            amount: *amount,
        },
        CreditsCmd::Use { user, amount } => Command::UseCredits {
            user: cx.user(user)?,
            amount: *amount,
        },
        CreditsCmd::Transfer { from, to, amount } => {
            let (from, to) = cx.names(|org| {
                Ok((
                    resolve::credit_account(org, from)?,
                    resolve::credit_account(org, to)?,
                ))
            })?;
            Command::TransferCredits {
                from,
                to,
                amount: *amount,
            }
        }
        CreditsCmd::Show => return show(cx),
    };
    cx.run(command, None)?;
    Ok(())
}

fn show(cx: &mut Ctx) -> Result<(), CliError> {
    let mut pool = 0;
    let mut balances = cx.reader()?.all(CreditsQuery::default(), |page| {
        pool = page.pool;
        page.users
    })?;
    balances.sort_by(|a, b| a.email.cmp(&b.email));
    if cx.out.is_json() {
        cx.out
            .doc(&json!({ "pool": pool, "users": balances, "next": null }))?;
        return Ok(());
    }
    cx.out.line(format!("Pool: {pool} credits."));
    let rows: Vec<Vec<String>> = balances
        .iter()
        .map(|b| vec![b.email.clone(), b.balance.to_string(), b.used.to_string()])
        .collect();
    cx.out.table(&["user", "unused", "used"], &rows);
    Ok(())
}
