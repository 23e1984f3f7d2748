//! Progress on stderr for long steps: a spinner with a message and the elapsed time,
//! drawn only when stderr is a terminal (indicatif hides it otherwise), so pipes, files
//! and tests see nothing of it.

use std::time::Duration;

/// A spinner saying `message`, ticking on its own until `finish_and_clear`.
pub fn spinner(message: impl Into<std::borrow::Cow<'static, str>>) -> indicatif::ProgressBar {
    let bar =
        indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}
