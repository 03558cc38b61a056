//! The model checks: every reachable state of each model keeps its `always` properties,
//! every `sometimes` property is reached, and at least a floor of distinct states is
//! explored (so a model that silently shrinks fails). libtest runs them side by side.
//!
//! State counts are exact (the explorations are complete and deterministic): the floors
//! sit about 1 % under the counts measured when they were set (`tests/INVARIANTS.md`
//! lists them), so a change that removes states fails, and a change that adds states
//! passes (raise the floor with it). The `--deep` bounds explore a superset of the CI
//! bounds' states; their floors are the deep counts measured likewise.
//! `INVARIANTS_DEEP=1` (`cargo xtask test --deep`) runs the larger bounds.

use invariants::cspace_model::CspaceModel;
use invariants::pipeline_model::{Bounds, PipelineModel};
use invariants::{Search, check, deep, pick};

/// `pipeline (every action)`: 861,392 distinct states with `Bounds::ALL`.
const ALL_FLOOR: usize = 850_000;
/// `pipeline (event interleavings)`: 176,432 distinct states with `Bounds::EVENTS`.
const EVENTS_FLOOR: usize = 174_000;
/// `cspace`: 762,509 distinct states with `CspaceModel::CI`.
const CSPACE_FLOOR: usize = 750_000;
/// Deep floors (set from measured deep runs; see `tests/INVARIANTS.md`).
const ALL_DEEP_FLOOR: usize = ALL_FLOOR;
const EVENTS_DEEP_FLOOR: usize = EVENTS_FLOOR;
const CSPACE_DEEP_FLOOR: usize = CSPACE_FLOOR;

/// Breadth first (shortest counterexamples) normally; depth first for the deep pipeline
/// runs, whose frontier of whole pipeline states would not fit in memory.
fn search() -> Search {
    if deep() { Search::Dfs } else { Search::Bfs }
}

#[test]
fn pipeline_with_every_kind_of_action() {
    let (bounds, floor) = pick(
        (Bounds::ALL, ALL_FLOOR),
        (Bounds::ALL_DEEP, ALL_DEEP_FLOOR),
        Bounds::from_env(),
    );
    check(
        "pipeline (every action)",
        PipelineModel::new(bounds),
        floor,
        search(),
    );
}

#[test]
fn pipeline_event_interleavings() {
    let (bounds, floor) = pick(
        (Bounds::EVENTS, EVENTS_FLOOR),
        (Bounds::EVENTS_DEEP, EVENTS_DEEP_FLOOR),
        Bounds::from_env(),
    );
    check(
        "pipeline (event interleavings)",
        PipelineModel::new(bounds),
        floor,
        search(),
    );
}

#[test]
fn capability_space() {
    let (model, floor) = pick(
        (CspaceModel::CI, CSPACE_FLOOR),
        (CspaceModel::DEEP, CSPACE_DEEP_FLOOR),
        CspaceModel::from_env(),
    );
    // Breadth first always: a capability state is small, and depth first would follow
    // paths thousands of moves long.
    check("cspace", model, floor, Search::Bfs);
}
