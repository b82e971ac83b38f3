//! The progress bar of the draw's long steps (snapshot, match, cloud draw,
//! winners load), fed by the analytics crate's progress events.

use einvoice_analytics::draw::Event;
use indicatif::{ProgressBar, ProgressStyle};

/// A bar that shows the current stage's name, its position and the time spent.
pub(crate) fn progress_bar() -> ProgressBar {
    let pb = ProgressBar::new(0);
    pb.set_style(
        ProgressStyle::with_template("{msg:>16} [{bar:40}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    pb
}

/// Progress events drawn on `pb`: a stage resets it, an advance moves it.
pub(crate) fn on_event(pb: &ProgressBar) -> impl Fn(Event<'_>) + Sync + '_ {
    move |e| match e {
        Event::Stage(name, total) => {
            pb.set_message(name.to_string());
            pb.set_length(total);
            pb.set_position(0);
        }
        Event::Advance(n) => pb.inc(n),
    }
}
