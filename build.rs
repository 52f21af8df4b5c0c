// The migrations are embedded in the binary by `sqlx::migrate!`: build again when one is
// added or changed (the build script `sqlx migrate build-script` writes).
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
