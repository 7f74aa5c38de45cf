//! Building a catalogue from history.
