//! Exhaustive model checks of the real pipeline and capability crates.
//!
//! Each model here is a [`stateright::Model`] whose state *is* the real data structure
//! (`pipeline::Pipeline`, `cspace::CapTable`) plus the little the properties need to talk
//! about it: a ledger of what happened to every event, the phase each domain's code is in,
//! the derivation relation the capabilities were made with. Every action calls the real
//! crate; nothing in the models re-implements the code under test. The checker explores
//! every state reachable within the bounds (a budget of events, switches, revocations, …;
//! no depth limit, so the exploration is complete inside the budget) and evaluates:
//!
//! - `always` properties: the invariants of the design (`tests/INVARIANTS.md` maps each to
//!   its statement), checked on every reachable state;
//! - `sometimes` properties: interesting states that must be reached (an event replayed
//!   after an unstall, a retired handler reclaimed, a revoke that reached another space,
//!   …), so a model whose actions silently stopped doing anything fails.
//!
//! [`check`] runs a model, prints the number of states, and fails when a property fails
//! or when fewer states than a floor were explored (a model that silently shrinks).
//!
//! `INVARIANTS_DEEP=1` (set by `cargo xtask test --deep`) selects larger bounds.

use std::fmt::Debug;
use std::hash::Hash;
use std::time::{Duration, Instant};

use stateright::report::{ReportData, ReportDiscovery, Reporter};
use stateright::{Checker, Expectation, HasDiscoveries, Model};

pub mod cspace_model;
pub mod pipeline_model;

/// Whether the deep bounds were asked for (`INVARIANTS_DEEP=1`, `cargo xtask test --deep`).
pub fn deep() -> bool {
    std::env::var_os("INVARIANTS_DEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// The model and state-count floor to run: `ci` normally, `deep` with `INVARIANTS_DEEP=1`,
/// and `sizing` with floor 0 when an environment variable set the bounds.
pub fn pick<T>(ci: (T, usize), deep: (T, usize), sizing: Option<T>) -> (T, usize) {
    match sizing {
        Some(model) => (model, 0),
        None if self::deep() => deep,
        None => ci,
    }
}

/// Checker threads: `INVARIANTS_THREADS`, or 1 (libtest runs the model checks side by
/// side, one per CPU).
fn threads() -> usize {
    std::env::var("INVARIANTS_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1)
}

/// `INVARIANTS_MAX_STATES`: stop each exploration after generating this many states (for
/// sizing the bounds; a stopped exploration is incomplete and fails).
fn max_states() -> Option<usize> {
    std::env::var("INVARIANTS_MAX_STATES")
        .ok()
        .and_then(|v| v.parse().ok())
}

/// How a model's states are explored. Both visit every reachable state once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Search {
    /// Breadth first: a counterexample is a shortest one, but the frontier (whole states)
    /// is held in memory.
    Bfs,
    /// Depth first: memory for the visited set and one path only; a counterexample is
    /// whatever path got there first. For the large `--deep` pipeline runs.
    Dfs,
}

/// What a run found.
#[derive(Debug)]
pub struct Report {
    /// Distinct states explored.
    pub unique_states: usize,
    /// States generated, repeats included.
    pub generated: usize,
    /// Failures: violated `always` properties (with the path), unreached `sometimes`
    /// properties, a state count under the floor.
    pub failures: Vec<String>,
}

/// Explores every state of `model` (the models bound themselves), prints the state count
/// and every property's result, and returns what failed.
pub fn explore<M>(name: &str, model: M, floor: usize, search: Search) -> Report
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let threads = threads();
    let start = Instant::now();
    // Stop at the first violation: with breadth-first search its path is (nearly) a
    // shortest one; later violations would overwrite it with longer ones.
    let mut builder = model
        .checker()
        .threads(threads)
        .finish_when(HasDiscoveries::AnyFailures);
    if let Some(n) = max_states() {
        builder = builder.target_state_count(n);
    }
    let mut progress = Progress {
        name: name.to_string(),
        last: Instant::now(),
    };
    match search {
        Search::Bfs => {
            let checker = builder.spawn_bfs().join_and_report(&mut progress);
            summarize(name, checker, floor, search, start)
        }
        Search::Dfs => {
            let checker = builder.spawn_dfs().join_and_report(&mut progress);
            summarize(name, checker, floor, search, start)
        }
    }
}

/// Prints the progress of a long exploration every 30 s.
struct Progress {
    name: String,
    last: Instant,
}

impl<M: Model> Reporter<M> for Progress {
    fn report_checking(&mut self, data: ReportData) {
        if !data.done && self.last.elapsed() >= Duration::from_secs(30) {
            self.last = Instant::now();
            println!(
                "{}: {} distinct states so far ({} generated, depth {}) after {} s",
                self.name,
                data.unique_states,
                data.total_states,
                data.max_depth,
                data.duration.as_secs()
            );
        }
    }

    fn report_discoveries(
        &mut self,
        _: &M,
        _: std::collections::BTreeMap<&'static str, ReportDiscovery<M>>,
    ) where
        M::Action: Debug + PartialEq,
        M::State: Debug + Hash + PartialEq,
    {
        // `summarize` reports every property.
    }

    fn delay(&self) -> Duration {
        Duration::from_millis(200)
    }
}

/// Prints and collects what a finished checker found.
fn summarize<M, C>(name: &str, checker: C, floor: usize, search: Search, start: Instant) -> Report
where
    M: Model,
    M::State: Clone + Debug + PartialEq,
    M::Action: Clone + Debug + PartialEq,
    C: Checker<M>,
{
    let threads = threads();
    let elapsed = start.elapsed();
    let unique_states = checker.unique_state_count();
    let generated = checker.state_count();
    println!(
        "{name}: {unique_states} distinct states ({generated} generated, max depth {}) \
         in {:.1} s on {threads} thread(s), {search:?}; floor {floor}",
        checker.max_depth(),
        elapsed.as_secs_f64(),
    );
    let mut violations = Vec::new();
    let mut unreached = Vec::new();
    for property in checker.model().properties() {
        let found = checker.discovery(property.name);
        match (&property.expectation, found) {
            (Expectation::Always | Expectation::Eventually, None) => {
                println!("  holds:   {}", property.name);
            }
            (Expectation::Always | Expectation::Eventually, Some(path)) => {
                let last = format!("{:#?}", path.last_state());
                let actions = path.into_actions();
                violations.push(format!(
                    "{name}: VIOLATED: {}\n  after {} actions: {actions:?}\n  last state: {last}",
                    property.name,
                    actions.len(),
                ));
            }
            // stateright 0.31 keeps the *last* path on which a `sometimes` property held
            // (not the shortest), so the example says nothing: print the name only.
            (Expectation::Sometimes, Some(_)) => {
                println!("  reached: {}", property.name);
            }
            (Expectation::Sometimes, None) => {
                unreached.push(format!("{name}: NEVER REACHED: {}", property.name));
            }
        }
    }
    // A violation stops the exploration: then it is the whole story.
    let failures = if !violations.is_empty() {
        violations.push(format!(
            "{name}: (the exploration stopped at the first violation)"
        ));
        violations
    } else {
        let mut failures = unreached;
        if !checker.is_done() {
            failures.push(format!("{name}: the exploration did not complete"));
        }
        if unique_states < floor {
            failures.push(format!(
                "{name}: only {unique_states} states explored, below the floor of {floor}: \
                 the model shrank (an action stopped being enabled or stopped changing state)"
            ));
        }
        failures
    };
    Report {
        unique_states,
        generated,
        failures,
    }
}

/// [`explore`], then panics with every failure.
pub fn check<M>(name: &str, model: M, floor: usize, search: Search) -> Report
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let report = explore(name, model, floor, search);
    assert!(
        report.failures.is_empty(),
        "{}",
        report.failures.join("\n\n")
    );
    report
}
