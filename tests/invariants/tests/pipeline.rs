//! Every reachable state of the pipeline model (see `invariants::pipeline_model`) keeps
//! invariants 1-6, the grace-period rule and the line-action rule; the interesting states
//! are reached; and at least a floor of states is explored.

use invariants::pipeline_model::{Bounds, PipelineModel};

#[test]
fn pipeline_keeps_invariants_in_every_reachable_state() {
    let bounds = Bounds::from_env();
    let floor = if bounds == Bounds::DEEP { 0 } else { 0 };
    invariants::check("pipeline", PipelineModel::new(bounds), floor);
}
