//! The window's state in its title, for whatever drives the window from outside — the
//! end-to-end tests, which send keys and clicks with xdotool and read the title back with
//! `xdotool getwindowname` instead of pausing for a guessed time.
//!
//! Enabled by the environment variable `CUELAB_WINDOW_STATUS=1` (a participant sees no title
//! in fullscreen, but a pilot's window would show it otherwise). The title then reads
//! `BASE [SCREEN STATE]`: `SCREEN` counts the screens the window was asked to show (so two
//! pages in a row differ), `STATE` is what is on screen and live (`consent`, `page`,
//! `fixation`, `blank`, `feedback`, `timeout`, `clip`, `quit`, and for a question
//! `ask:STEP answered=K/N typed=C error=E repro=R`). A state is published only once it has
//! been drawn by a whole pass and that pass's picture has been swapped: when a script sees it,
//! the screen shows it and takes input.

/// The status line's bookkeeping (see the module docs).
#[derive(Debug)]
pub(crate) struct StatusTitle {
    base: String,
    published: Option<String>,
    /// The state at the end of the last pass.
    last_end: Option<String>,
    /// A state that held through a whole pass: published at the start of the next one.
    ready: Option<String>,
}

/// The environment variable that turns the status title on.
pub(crate) const ENV: &str = "CUELAB_WINDOW_STATUS";

impl StatusTitle {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            published: None,
            last_end: None,
            ready: None,
        }
    }

    /// A status title when `CUELAB_WINDOW_STATUS` is set to `1`.
    pub(crate) fn from_env(base: &str) -> Option<Self> {
        (std::env::var_os(ENV).is_some_and(|v| v == "1")).then(|| Self::new(base))
    }

    /// The end of a pass that drew `state` (`None`: a screen not yet live). Returns `true`
    /// when another pass is needed before the state can be published.
    pub(crate) fn end_pass(&mut self, state: Option<String>) -> bool {
        let stable = state.is_some() && state == self.last_end;
        self.ready = if stable { state.clone() } else { None };
        self.last_end = state;
        let unpublished = self.last_end.is_some() && self.last_end != self.published;
        unpublished && !stable
    }

    /// The start of a pass, right after the last pass's picture was swapped: the new title,
    /// if a state is ready to be published.
    pub(crate) fn start_pass(&mut self) -> Option<String> {
        let state = self.ready.take()?;
        if self.published.as_ref() == Some(&state) {
            return None;
        }
        let title = format!("{} [{state}]", self.base);
        self.published = Some(state);
        Some(title)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_is_published_once_after_a_whole_pass_showed_it() {
        let mut s = StatusTitle::new("cuelab");
        // Drawn for the first time: not yet published, and another pass is wanted.
        assert!(s.end_pass(Some("1 page".into())));
        assert_eq!(s.start_pass(), None);
        // Drawn again: published at the start of the following pass, once.
        assert!(!s.end_pass(Some("1 page".into())));
        assert_eq!(s.start_pass().as_deref(), Some("cuelab [1 page]"));
        assert!(!s.end_pass(Some("1 page".into())));
        assert_eq!(s.start_pass(), None);
        // A screen not yet live is never published.
        assert!(!s.end_pass(None));
        assert_eq!(s.start_pass(), None);
        assert!(s.end_pass(Some("2 ask:sam answered=0/3".into())));
        assert_eq!(s.start_pass(), None);
        s.end_pass(Some("2 ask:sam answered=0/3".into()));
        assert_eq!(
            s.start_pass().as_deref(),
            Some("cuelab [2 ask:sam answered=0/3]")
        );
        // A state that lasts less than a pass is skipped.
        s.end_pass(Some("3 feedback".into()));
        s.end_pass(Some("4 page".into()));
        assert_eq!(s.start_pass(), None);
        s.end_pass(Some("4 page".into()));
        assert_eq!(s.start_pass().as_deref(), Some("cuelab [4 page]"));
    }
}
