// The admin answers the UI reads, generated from crates/gateway/src/api.rs into api.gen.ts
// (`UPDATE_TS=1 cargo test -p switchboard-gateway --lib api`).

export type {
  AliasInfo,
  BudgetStatus,
  BudgetsReport,
  Readiness,
  TargetStatus,
  StatusReport as Status,
} from './api.gen';
