use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // A panic's message (a driver's, say) may quote a connection URL: printed masked.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|text| text.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "(no message)".into());
        let place = info.location().map(|at| format!(" at {}:{}", at.file(), at.line())).unwrap_or_default();
        eprintln!("ferry panicked{place}: {}", ferry::connection::mask_text(&message));
    }));
    let cli = ferry::cli::Cli::parse();
    ferry::command::init_logging(cli.verbose);
    // Deep plans recurse: a long CASE chain or many joins, and a cluster's protobuf plans (their
    // codec does not grow the stack as DataFusion's planner does).
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_stack_size(8 << 20).build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(ferry::command::execute(cli))
}
