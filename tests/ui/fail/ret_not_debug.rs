struct Opaque;

#[tg4p::trace(ret)]
fn f(id: u32) -> Opaque {
    let _ = id;
    Opaque
}

struct Handle;

impl Handle {
    #[tg4p::trace_args(ret, skip(self))]
    async fn open(&self) -> Opaque {
        Opaque
    }

    // Non-`Debug` inside a `Debug` type: rustc reports the inner type's missing
    // `Debug` (the `ret` note does not apply), still at the return type.
    #[tg4p::trace(ret)]
    fn try_open(&self) -> Result<Opaque, String> {
        Ok(Opaque)
    }
}

fn main() {}
