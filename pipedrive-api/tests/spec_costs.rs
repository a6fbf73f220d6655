//! The token cost table this project keeps agrees, operation by operation, with the `x-token-cost`
//! of Pipedrive's official specs (read from `../shared/pipedrive-openapi/` or `$PIPEDRIVE_OPENAPI_DIR`).

use std::collections::BTreeSet;

use pipedrive_api::{ApiVersion, operations};

#[test]
fn the_cost_table_matches_the_specs() {
    let Some(specs) = openapi_check::Specs::for_tests() else { return };
    for (version, spec) in [(ApiVersion::V1, &specs.v1), (ApiVersion::V2, &specs.v2)] {
        let from_spec: BTreeSet<(String, String, String, u32, bool)> = spec
            .token_costs()
            .into_iter()
            .filter(|op| !op.template.starts_with("/oauth"))
            .map(|op| {
                (
                    op.method,
                    op.template,
                    op.operation_id,
                    op.token_cost.expect("every operation has a cost"),
                    op.deprecated,
                )
            })
            .collect();
        let ours: BTreeSet<(String, String, String, u32, bool)> = operations()
            .iter()
            .filter(|op| op.version == version && !op.template.starts_with("/oauth"))
            .map(|op| {
                (
                    op.method.to_string(),
                    op.template.to_string(),
                    op.operation_id.to_string(),
                    op.token_cost,
                    op.deprecated,
                )
            })
            .collect();
        let missing: Vec<_> = from_spec.difference(&ours).collect();
        let extra: Vec<_> = ours.difference(&from_spec).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{version:?}: not in our table {missing:?}; not in the spec {extra:?}"
        );
    }
}
