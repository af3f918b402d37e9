// The load generator's question mix, shared by `examples/load.rs` and the test that
// checks one audit record per answered message after a burst (`tests/it/load.rs`), so the
// test always sends what the benchmark measures. Each entry: who asks, in a group or
// not, what.
const MIX: &[(&str, bool, &str)] = &[
    (
        "demo.staff",
        false,
        "how many iPhone 15 Pro 256GB in stock?",
    ),
    ("demo.manager", true, "上個月九龍區營業額"),
    ("demo.staff", true, "how many annual leave days do I have?"),
    ("demo.manager", true, "sales report last month"),
    ("demo.staff", true, "how many iPhone 15 Pro 256GB in stock?"),
    ("demo.manager", false, "sales last month in Kowloon"),
    ("demo.hr", true, "我仲有幾多日年假"),
    ("demo.admin", false, "上個月銷售報告"),
];
