//! `resilience`: see [`harness::cli`].

fn main() {
    std::process::exit(harness::cli::main_impl());
}
