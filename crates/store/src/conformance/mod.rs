//! The conformance suite every [`crate::Store`] implementation runs.
//!
//! Written against the trait only. A backend crate instantiates it with
//! [`store_conformance!`](crate::store_conformance), passing an async
//! expression that yields a fresh, empty store; each case is one test.
//! One file per theme; `fixtures` holds what they share. Compiled only with
//! the `conformance` feature (tests of the backends, the server and the cli).

mod append;
mod attempts;
mod bodies;
mod carrier_agg;
mod carrier_life;
mod carrier_read;
mod carrier_reg;
mod draw;
mod fixtures;
mod io;
mod ledger;
mod lookup;
mod outbox;
mod reads;
mod scope;
mod soc_holds;
mod sync;
mod withheld;

pub use append::*;
pub use attempts::*;
pub use bodies::*;
pub use carrier_agg::*;
pub use carrier_life::*;
pub use carrier_read::*;
pub use carrier_reg::*;
pub use draw::*;
pub use fixtures::*;
pub use io::*;
pub use ledger::*;
pub use lookup::*;
pub use outbox::*;
pub use reads::*;
pub use scope::*;
pub use soc_holds::*;
pub use sync::*;
pub use withheld::*;

use crate::{InvoiceStatus, Rejection, Scope, Store};
use einvoice_core::{InvoiceNumber, Period, RandomNumber, Rules, Ubn, Validated, validate};

/// Generate one `#[tokio::test]` per conformance case for a backend. `$make`
/// is an expression evaluating to a future of a fresh, empty store.
#[macro_export]
macro_rules! store_conformance {
    ($make:expr) => {
        $crate::store_conformance!(@cases $make;
            ledger_chain, idempotency, tracks_and_blanks, tenant_matrix,
            lifecycle_and_queries, nonces_and_records, concurrent_appends,
            draw_eligibility, draw_freeze_once, draw_winners, draw_bank_accounts,
            outbox_claims_are_disjoint, outbox_lease_expiry, outbox_failed_items_reschedule,
            draw_freeze_ledger, draw_winners_ledger, carrier_read_path, new_entries_are_v2,
            v1_chains_keep_verifying, sync_pages, sync_rebuilds_carrier_life, sync_records,
            npo_directory, donations, carrier_registration, mail_outbox, carrier_links,
            lookup_by_number_and_date, soc_holds_round_trip);
    };
    (@cases $make:expr; $($case:ident),*) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn export_import_round_trip() {
            $crate::conformance::export_import_round_trip($make.await, $make.await).await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn withheld_bodies_are_stored_and_verified() {
            $crate::conformance::withheld_bodies_are_stored_and_verified($make.await, $make.await)
                .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_withheld_message_body_is_refused() {
            $crate::conformance::a_withheld_message_body_is_refused($make.await, $make.await)
                .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn carrier_life_survives_export_import() {
            $crate::conformance::carrier_life_survives_export_import($make.await, $make.await)
                .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn carrier_links_survive_export_import() {
            $crate::conformance::carrier_links_survive_export_import($make.await, $make.await)
                .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn compressed_bodies_read_back_exactly() {
            $crate::conformance::compressed_bodies_read_back_exactly($make.await, $make.await)
                .await;
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn import_refuses_draw_data() {
            $crate::conformance::import_refuses_draw_data($make.await, $make.await, $make.await)
                .await;
        }
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::conformance::$case($make.await).await;
            }
        )*
    };
}
