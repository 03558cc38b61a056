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
use std::time::Instant;

use stateright::{Checker, Expectation, Model};

pub mod cspace_model;
pub mod pipeline_model;

/// Whether the deep bounds were asked for (`INVARIANTS_DEEP=1`, `cargo xtask test --deep`).
pub fn deep() -> bool {
    std::env::var_os("INVARIANTS_DEEP").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Checker threads: `INVARIANTS_THREADS`, or every CPU the test may use.
fn threads() -> usize {
    std::env::var("INVARIANTS_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// `INVARIANTS_MAX_STATES`: stop each exploration after generating this many states (for
/// sizing the bounds; a stopped exploration is incomplete and fails).
fn max_states() -> Option<usize> {
    std::env::var("INVARIANTS_MAX_STATES")
        .ok()
        .and_then(|v| v.parse().ok())
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

/// Explores every state of `model` (breadth-first, so a counterexample is a shortest one; the models bound themselves), prints
/// the state count and every property's result, and returns what failed.
pub fn explore<M>(name: &str, model: M, floor: usize) -> Report
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let threads = threads();
    let start = Instant::now();
    let mut builder = model.checker().threads(threads);
    if let Some(n) = max_states() {
        builder = builder.target_state_count(n);
    }
    let checker = builder.spawn_bfs().join();
    let elapsed = start.elapsed();
    let unique_states = checker.unique_state_count();
    let generated = checker.state_count();
    println!(
        "{name}: {unique_states} distinct states ({generated} generated, max depth {}) \
         in {:.1} s on {threads} thread(s); floor {floor}",
        checker.max_depth(),
        elapsed.as_secs_f64(),
    );
    let mut failures = Vec::new();
    if !checker.is_done() {
        failures.push(format!("{name}: the exploration did not complete"));
    }
    for property in checker.model().properties() {
        let found = checker.discovery(property.name);
        match (&property.expectation, found) {
            (Expectation::Always | Expectation::Eventually, None) => {
                println!("  holds:   {}", property.name);
            }
            (Expectation::Always | Expectation::Eventually, Some(path)) => {
                let last = format!("{:#?}", path.last_state());
                let actions = path.into_actions();
                failures.push(format!(
                    "{name}: VIOLATED: {}\n  after {} actions: {actions:?}\n  last state: {last}",
                    property.name,
                    actions.len(),
                ));
            }
            (Expectation::Sometimes, Some(path)) => {
                println!(
                    "  reached: {} (example: {:?})",
                    property.name,
                    path.into_actions()
                );
            }
            (Expectation::Sometimes, None) => {
                failures.push(format!("{name}: NEVER REACHED: {}", property.name));
            }
        }
    }
    if unique_states < floor {
        failures.push(format!(
            "{name}: only {unique_states} states explored, below the floor of {floor}: \
             the model shrank (an action stopped being enabled or stopped changing state)"
        ));
    }
    Report {
        unique_states,
        generated,
        failures,
    }
}

/// [`explore`], then panics with every failure.
pub fn check<M>(name: &str, model: M, floor: usize) -> Report
where
    M: Model + Send + Sync + 'static,
    M::State: Clone + Debug + Hash + PartialEq + Send + Sync + 'static,
    M::Action: Clone + Debug + PartialEq + Send + Sync + 'static,
{
    let report = explore(name, model, floor);
    assert!(
        report.failures.is_empty(),
        "{}",
        report.failures.join("\n\n")
    );
    report
}
