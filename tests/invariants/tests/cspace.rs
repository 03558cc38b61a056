//! Every reachable state of the capability model (see `invariants::cspace_model`) keeps
//! the capability rules; the interesting states are reached; and at least a floor of
//! states is explored.

use invariants::cspace_model::CspaceModel;

#[test]
fn capability_rules_hold_in_every_reachable_state() {
    invariants::check("cspace", CspaceModel::from_env(), 0);
}
