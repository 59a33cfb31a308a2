//! The switches the planted bugs of [`crate::mutants`] hide behind.
//!
//! With the crate feature `mutants`, each switch asks at run time whether its
//! mutant is the active one. Without it, a switch expands to the correct code
//! alone: the buggy code is not compiled, so a production build does not
//! carry it.

/// `mutant!(Name, buggy, correct)`: `buggy` while the mutant
/// [`crate::mutants::Mutant`]`::Name` is active, `correct` otherwise (and
/// always, without the `mutants` feature).
#[cfg(feature = "mutants")]
macro_rules! mutant {
    ($name:ident, $buggy:expr, $correct:expr $(,)?) => {
        if $crate::mutants::is($crate::mutants::Mutant::$name) {
            $buggy
        } else {
            $correct
        }
    };
}

/// `mutant!(Name, buggy, correct)`: without the `mutants` feature, `correct`.
#[cfg(not(feature = "mutants"))]
macro_rules! mutant {
    ($name:ident, $buggy:expr, $correct:expr $(,)?) => {
        $correct
    };
}

/// `if_mutant!(Name, { buggy })`: run the block only while the mutant
/// [`crate::mutants::Mutant`]`::Name` is active (never, and not compiled,
/// without the `mutants` feature).
#[cfg(feature = "mutants")]
macro_rules! if_mutant {
    ($name:ident, $buggy:block $(,)?) => {
        if $crate::mutants::is($crate::mutants::Mutant::$name) $buggy
    };
}

/// `if_mutant!(Name, { buggy })`: without the `mutants` feature, nothing.
#[cfg(not(feature = "mutants"))]
macro_rules! if_mutant {
    ($name:ident, $buggy:block $(,)?) => {};
}
