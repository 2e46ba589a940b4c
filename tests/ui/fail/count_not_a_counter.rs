//! `count!` takes a `static` `tg4p::Counter` or a literal name, and says so.

fn main() {
    let name = "queue_depth";
    tg4p::count!(name = 3);
}
