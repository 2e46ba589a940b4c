static NOT_A_TRACK: u32 = 3;

#[tg4p::trace(track = NOT_A_TRACK)]
fn f() {}

fn main() {}
