//! Placeholder: the template layer is being written.
