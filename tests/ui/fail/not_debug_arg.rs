struct Opaque;

#[tg4p::trace_args]
fn f(id: u32, handle: Opaque) -> u32 {
    let Opaque = handle;
    id
}

fn main() {}
