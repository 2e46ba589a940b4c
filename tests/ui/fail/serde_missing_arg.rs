#[tg4p::trace_args(serde(cfg, confg))]
fn f(cfg: u32, x: u32) -> u32 {
    cfg + x
}

fn main() {}
