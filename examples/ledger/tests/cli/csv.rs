//! `ledger import FILE --csv-rules RULES`: a bank statement, then an overlapping one (only the
//! new rows are added, the balances are right), and problems printed as `FILE:LINE: reason`
//! against the file they are in. Conversion and rules tests are unit tests in
//! `src/interop/csv_*.rs`.

use super::import::TempFile;
use super::{TempDb, ledger, open_store, path, text};
use ledger::domain::{AccountName, Amount, CommodityCode, Date, TenantSlug};
use ledger::limits::CSV_RULES_FILE_BYTES_MAX;
use ledger::store::Store;

const RULES: &str = "# Example Bank export
skip 1
fields date, description, debit, credit
date-format %d/%m/%Y
account Assets:Bank:Checking
currency EUR
precision 2
default-account Expenses:Unsorted
if salary -> Income:Salary
if grocer -> Expenses:Food
";

/// January 1-10; the coffee appears twice on one day (two real purchases).
const JANUARY: &str = "Date,Description,Debit,Credit\r
01/01/2024,ACME SALARY,,2000.00\r
03/01/2024,\"Grocer, The\",45.10,\r
05/01/2024,Coffee,3.20,\r
05/01/2024,Coffee,3.20,\r
";

/// January 5-15: overlaps on the 5th (both coffees again), adds two rows.
const OVERLAP: &str = "Date,Description,Debit,Credit\r
05/01/2024,Coffee,3.20,\r
05/01/2024,Coffee,3.20,\r
12/01/2024,GROCER,20.00,\r
15/01/2024,Refund,,5.00\r
";

fn balance(db: &TempDb, account: &str) -> Amount {
    let mut store = open_store(db);
    let tenant = store
        .tenant(&TenantSlug::new("acme").expect("slug"))
        .expect("read")
        .expect("the tenant exists");
    store
        .balance(
            tenant,
            &AccountName::new(account).expect("name"),
            &CommodityCode::new("EUR").expect("code"),
            Date::parse("2024-12-31").expect("date"),
        )
        .expect("balance")
}

#[test]
fn an_overlapping_statement_adds_only_its_new_rows() {
    let db = TempDb::new("csv-overlap");
    let rules = TempFile::new("bank.rules", RULES);
    let january = TempFile::new("january.csv", JANUARY);
    let overlap = TempFile::new("overlap.csv", OVERLAP);
    let import = |file: &TempFile| {
        let args = ["--database", path(&db), "import", file.path()];
        ledger(
            &[
                &args[..],
                &["--csv-rules", rules.path(), "--tenant", "acme"],
            ]
            .concat(),
        )
    };
    let first = import(&january);
    assert!(first.status.success(), "{}", text(&first.stderr));
    assert!(
        text(&first.stdout).contains(
            "imported 4 entries into tenant acme, skipped 0 already imported: 4 new accounts, \
             1 new commodities"
        ),
        "{}",
        text(&first.stdout)
    );
    let second = import(&overlap);
    assert!(second.status.success(), "{}", text(&second.stderr));
    assert!(
        text(&second.stdout).contains("imported 2 entries into tenant acme, skipped 2"),
        "{}",
        text(&second.stdout)
    );
    let third = import(&overlap);
    assert!(
        text(&third.stdout).contains("imported 0 entries"),
        "{}",
        text(&third.stdout)
    );
    // 2000.00 - 45.10 - 3.20 - 3.20 - 20.00 + 5.00
    assert_eq!(balance(&db, "Assets:Bank:Checking"), Amount(193_350));
    assert_eq!(balance(&db, "Expenses:Food"), Amount(6_510));
    assert_eq!(balance(&db, "Expenses:Unsorted"), Amount(140));
    assert_eq!(balance(&db, "Income:Salary"), Amount(-200_000));
    let checked = ledger(&["--database", path(&db), "check"]);
    assert!(checked.status.success(), "{}", text(&checked.stderr));
}

#[test]
fn problems_name_their_file_and_line_and_nothing_is_written() {
    let db = TempDb::new("csv-problems");
    let rules = TempFile::new("bad.rules", &RULES.replace("%d/%m/%Y", "%d/%b/%Y"));
    let good_rules = TempFile::new("good.rules", RULES);
    let statement = TempFile::new(
        "bad.csv",
        &JANUARY
            .replace("45.10", "45.105")
            .replace("05/01/2024,Coffee,3.20,\r\n05", "5th,Coffee,3.20,\r\n05"),
    );
    let bad_rules = ledger(&[
        "--database",
        path(&db),
        "import",
        statement.path(),
        "--csv-rules",
        rules.path(),
    ]);
    assert_eq!(bad_rules.status.code(), Some(1));
    let stderr = text(&bad_rules.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:4: unsupported date directive %b",
            rules.path()
        )),
        "{stderr}"
    );
    let bad_rows = ledger(&[
        "--database",
        path(&db),
        "import",
        statement.path(),
        "--csv-rules",
        good_rules.path(),
    ]);
    assert_eq!(bad_rows.status.code(), Some(1));
    let stderr = text(&bad_rows.stderr);
    assert!(
        stderr.contains(&format!(
            "{}:3: 45.105 has more than 2 decimals",
            statement.path()
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}:4: not a date in format %d/%m/%Y",
            statement.path()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("error: nothing imported from"), "{stderr}");
    let mut store = open_store(&db);
    for (tenant, _) in store.tenants().expect("tenants") {
        assert!(store.entries(tenant, None, 10).expect("entries").is_empty());
    }
}

#[test]
fn a_rules_file_over_the_limit_is_refused() {
    let db = TempDb::new("csv-rules-limit");
    let size = usize::try_from(CSV_RULES_FILE_BYTES_MAX).expect("fits") + 1;
    let rules = TempFile::new("huge.rules", &"#".repeat(size));
    let statement = TempFile::new("small.csv", JANUARY);
    let refused = ledger(&[
        "--database",
        path(&db),
        "import",
        statement.path(),
        "--csv-rules",
        rules.path(),
    ]);
    assert_eq!(refused.status.code(), Some(1));
    let stderr = text(&refused.stderr);
    assert!(
        stderr.contains(&format!(
            "an import reads at most {CSV_RULES_FILE_BYTES_MAX}"
        )),
        "{stderr}"
    );
}
