//! CourtLink's load tools, out of the server that courts install (issue 14): the benchmarks
//! (`bench`), the province-day load test (`loadtest`), the data generator (`generate`) and what
//! the first two share (`loadkit`). The binary is `courtlink-bench` (src/main.rs); the library
//! is for it and for the server's tests, which fill databases with `generate`.

pub mod bench;
pub mod generate;
pub mod loadkit;
pub mod loadtest;
pub mod seed;
