//! The CLI's one reader: a query of the read layer ([`crate::read`]) answered on the
//! open data directory (embedded) or by the server (client mode), as the same answer
//! type, so a command prints one shape whatever the backend. Lists are read page by
//! page: a command either prints the one page `--limit` asks for, or walks every page
//! (following `next`), printing as it goes, so memory stays flat however long the list.

use offboard_events::OrgId;

use super::args::PageArgs;
use super::context::Backend;
use super::error::CliError;
use super::Ctx;
use crate::read::{Cursor, Limit, PageAnswer, Paged, Query, ReadFailure, Scope};

impl From<ReadFailure> for CliError {
    fn from(e: ReadFailure) -> Self {
        match e {
            ReadFailure::Invalid(message) => CliError::invalid(message),
            not_found @ ReadFailure::NotFound(_) => CliError::not_found(not_found.to_string()),
            ReadFailure::Read(e) => e.into(),
            ReadFailure::Domain(e) => e.into(),
        }
    }
}

/// Answers queries where the command runs; holds no borrow of the [`Ctx`], so a
/// command can print while it reads.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    backend: Backend<'a>,
    /// The selected org (embedded; the token decides it in client mode).
    org: Option<OrgId>,
}

impl<'a> Ctx<'a> {
    /// The reader of this command's backend and org.
    pub fn reader(&self) -> Result<Reader<'a>, CliError> {
        let org = match self.backend {
            Backend::Embedded(_) => Some(self.org_id()?),
            Backend::Remote(_) => None,
        };
        Ok(Reader {
            backend: self.backend,
            org,
        })
    }

    /// One query's answer (see [`Reader::ask`]).
    pub fn ask<Q: Query>(&self, query: &Q) -> Result<Q::Answer, CliError> {
        self.reader()?.ask(query)
    }
}

/// The query `page` asks for: its `--limit` (else the largest page, to walk them all)
/// and its `--cursor`.
fn paged<Q: Paged>(mut query: Q, page: &PageArgs) -> Result<Q, CliError> {
    let limit = match page.limit {
        Some(n) => Limit::new(n)?,
        None => Limit::max(),
    };
    query.set_limit(limit);
    if let Some(text) = &page.cursor {
        let cursor: Cursor = serde_json::from_value(cursor_of(text).into())
            .map_err(|e| CliError::invalid(format!("--cursor: {e}")))?;
        query.set_cursor(Some(cursor));
    }
    Ok(query)
}

/// The cursor `--cursor` names: the value as given, or the `cursor` parameter of a
/// whole `next` link (`/v1/users?limit=2&cursor=…`, as `--json` prints it).
fn cursor_of(arg: &str) -> &str {
    let query = arg.split_once('?').map_or(arg, |(_, query)| query);
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("cursor="))
        .unwrap_or(arg)
}

impl<'a> Reader<'a> {
    /// The reader of a server, for client mode's own lookups.
    pub fn remote(r: &'a super::remote::Remote) -> Self {
        Self {
            backend: Backend::Remote(r),
            org: None,
        }
    }

    /// The answer to `query`: embedded from the engine's views (and log), remote from
    /// `GET` [`Query::url`].
    pub fn ask<Q: Query>(&self, query: &Q) -> Result<Q::Answer, CliError> {
        match (self.backend, self.org) {
            (Backend::Embedded(session), Some(org)) => {
                Ok(query.answer(&Scope::new(session.engine(), org))?)
            }
            (Backend::Remote(r), _) => r.get(&query.url()),
            (Backend::Embedded(_), None) => Err(CliError::usage("no organization selected")),
        }
    }

    /// Reads the pages `page` asks for and hands each to `each`, in order: the one page
    /// of `--limit`, or every page (walking `next`). Returns the `next` link of the
    /// last page read (`None` once the list is done).
    pub fn walk<Q: Query + Paged>(
        &self,
        query: Q,
        page: &PageArgs,
        mut each: impl FnMut(Q::Answer) -> Result<(), CliError>,
    ) -> Result<Option<String>, CliError>
    where
        Q::Answer: PageAnswer,
    {
        let mut query = paged(query, page)?;
        let one_page = page.limit.is_some();
        // One scope for the whole walk: an as-of list replays the log once, a long
        // listing is sorted once.
        let scope = match (self.backend, self.org) {
            (Backend::Embedded(session), Some(org)) => Some(Scope::walking(session.engine(), org)),
            _ => None,
        };
        let mut url = query.url();
        loop {
            let answer = match (&scope, self.backend) {
                (Some(scope), _) => query.answer(scope)?,
                (None, Backend::Remote(r)) => r.get(&url)?,
                (None, Backend::Embedded(_)) => {
                    return Err(CliError::usage("no organization selected"))
                }
            };
            let next = answer.next().map(str::to_owned);
            each(answer)?;
            match next {
                Some(next) if !one_page => {
                    query = query.follow(&next)?;
                    url = next;
                }
                next => return Ok(next),
            }
        }
    }

    /// Every item of a list, all pages read (for lists that stay small: the
    /// directory, duties, distributions, labels).
    pub fn all<Q: Query + Paged, T>(
        &self,
        query: Q,
        mut items: impl FnMut(Q::Answer) -> Vec<T>,
    ) -> Result<Vec<T>, CliError>
    where
        Q::Answer: PageAnswer,
    {
        let mut all = Vec::new();
        self.walk(query, &PageArgs::default(), |page| {
            all.extend(items(page));
            Ok(())
        })?;
        Ok(all)
    }
}
