//! Migrations over a database that already holds data.

use crate::helpers::{drop_database, fresh_database, Backend};
use ::migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};

async fn exec(db: &DatabaseConnection, sql: &str) {
    db.execute_unprepared(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

async fn number(db: &DatabaseConnection, sql: &str) -> Option<i64> {
    db.query_one(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .and_then(|r| r.try_get_by_index::<Option<i64>>(0).unwrap())
}

/// Migration 9: a code is published by its publication row alone, and each campaign's mark
/// says up to where all its codes are published.
async fn publications_mark_codes(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, name) = fresh_database(backend, dir.path()).await;
    let db = server::db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(8)).await.unwrap();
    for (id, generated) in [("cmp_a", 5), ("cmp_b", 2), ("cmp_c", 0)] {
        exec(&db, &format!(
            "INSERT INTO campaigns (id, name, discount_type, percent_off, code_config, vouchers_count, generated_count, \
             published_count, redeemed_count, status, created_at, updated_at) \
             VALUES ('{id}', '{id}', 'PERCENT', 10, '{{}}', {generated}, {generated}, 0, 0, 'ready', 1, 1)"
        )).await;
    }
    // Campaign A: codes 1–5, of which 1, 2 and 4 are published; B: codes 6 and 7, both published.
    for (id, campaign, published) in [
        (1, "cmp_a", true),
        (2, "cmp_a", true),
        (3, "cmp_a", false),
        (4, "cmp_a", true),
        (5, "cmp_a", false),
        (6, "cmp_b", true),
        (7, "cmp_b", true),
    ] {
        exec(&db, &format!(
            "INSERT INTO vouchers (id, campaign_id, code, published_at) VALUES ({id}, '{campaign}', 'CODE-{id}', {})",
            if published { "100" } else { "NULL" }
        )).await;
        if published {
            exec(&db, &format!(
                "INSERT INTO publications (voucher_id, campaign_id, customer_id, token, published_at) \
                 VALUES ({id}, '{campaign}', 'cus_{id}', 'token-{id}', 100)"
            )).await;
        }
    }

    Migrator::up(&db, None).await.unwrap();
    let mark = |c: &str| format!("SELECT published_through FROM campaigns WHERE id = '{c}'");
    assert_eq!(
        number(&db, &mark("cmp_a")).await,
        Some(2),
        "codes 1 and 2 are published, 3 is free"
    );
    assert_eq!(
        number(&db, &mark("cmp_b")).await,
        Some(7),
        "every code of B is published"
    );
    assert_eq!(number(&db, &mark("cmp_c")).await, Some(0));
    assert_eq!(
        number(&db, "SELECT COUNT(*) FROM publications").await,
        Some(5),
        "publications kept"
    );
    assert!(
        db.execute_unprepared("SELECT published_at FROM vouchers")
            .await
            .is_err(),
        "vouchers no longer say whether they are published"
    );
    let publish = |voucher: i64, customer: &str, token: &str| {
        format!(
            "INSERT INTO publications (voucher_id, campaign_id, customer_id, token, published_at) \
             VALUES ({voucher}, 'cmp_a', '{customer}', '{token}', 200)"
        )
    };
    // One code per customer and campaign, still.
    let twice = db
        .execute_unprepared(&publish(3, "cus_1", "token-again"))
        .await;
    assert!(twice.is_err(), "a second code of A for cus_1 is refused");
    // A code is taken once: its publication's key is the voucher id.
    let taken = db
        .execute_unprepared(&publish(4, "cus_9", "token-other"))
        .await;
    assert!(taken.is_err(), "code 4 is held already");
    // And a free code can still be published.
    db.execute_unprepared(&publish(3, "cus_9", "token-free"))
        .await
        .unwrap();

    // Down again to migration 8: `published_at` comes back from the publications.
    let after_8 = (Migrator::migrations().len() - 8) as u32;
    Migrator::down(&db, Some(after_8)).await.unwrap();
    assert_eq!(
        number(&db, "SELECT published_at FROM vouchers WHERE id = 4").await,
        Some(100)
    );
    assert_eq!(
        number(&db, "SELECT published_at FROM vouchers WHERE id = 3").await,
        Some(200)
    );
    assert_eq!(
        number(&db, "SELECT published_at FROM vouchers WHERE id = 5").await,
        None
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        number(&db, &mark("cmp_a")).await,
        Some(4),
        "codes 1–4 are published now, 5 is free"
    );

    db.close().await.ok();
    if let Some(name) = name {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn publications_mark_codes_sqlite() {
    publications_mark_codes(Backend::Sqlite).await;
}

#[tokio::test]
async fn publications_mark_codes_postgres() {
    publications_mark_codes(Backend::Postgres).await;
}

/// Migration 10: messages a stopped process left `sending` (claimed under the old per-row
/// lease) go back to the queue, and the lease columns go.
async fn claims_without_leases(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, name) = fresh_database(backend, dir.path()).await;
    let db = server::db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(9)).await.unwrap();
    for (id, status, owner) in [
        (1, "sending", "'proc_gone'"),
        (2, "pending", "NULL"),
        (3, "accepted", "NULL"),
    ] {
        exec(&db, &format!(
            "INSERT INTO deliveries (id, kind, occurrence, integration_id, priority, recipient, body, encoding, segments, \
             status, attempts, send_after, lease_owner, lease_until, created_at, updated_at) \
             VALUES ({id}, 'test', '', 'int_1', 0, '+14155550100', 'Hi', 'GSM-7', 1, '{status}', 0, 0, {owner}, 5, 1, 1)"
        )).await;
    }
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) FROM deliveries WHERE status = 'pending'"
        )
        .await,
        Some(2),
        "the message left sending is queued again"
    );
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) FROM deliveries WHERE status = 'accepted'"
        )
        .await,
        Some(1)
    );
    assert!(
        db.execute_unprepared("SELECT lease_owner FROM deliveries")
            .await
            .is_err(),
        "the lease columns are gone"
    );
    let after_9 = (Migrator::migrations().len() - 9) as u32;
    Migrator::down(&db, Some(after_9)).await.unwrap();
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) FROM deliveries WHERE lease_owner IS NULL AND lease_until IS NULL"
        )
        .await,
        Some(3),
        "down brings the columns back, empty"
    );
    db.close().await.ok();
    if let Some(name) = name {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn claims_without_leases_sqlite() {
    claims_without_leases(Backend::Sqlite).await;
}

#[tokio::test]
async fn claims_without_leases_postgres() {
    claims_without_leases(Backend::Postgres).await;
}

/// Migration 11: the numbers of customers an SMS reply opted out are on the number list; an
/// opt-out made by hand is the customer's, not the number's. Migration 13 (on a database that
/// has run 11): the other customers filed under a listed number are opted out.
async fn number_opt_outs(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, name) = fresh_database(backend, dir.path()).await;
    let db = server::db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(10)).await.unwrap();
    for (id, phone, consent, source) in [
        ("cust_a", "+14155550101", "opted_out", "sms"),
        ("cust_b", "+14155550102", "opted_out", "api"),
        ("cust_c", "+14155550103", "opted_in", "sms"),
        // Filed under the number that replied STOP (its ledger says opted out by the API).
        ("cust_d", "+14155550101", "opted_in", "api"),
    ] {
        exec(
            &db,
            &format!(
                "INSERT INTO customers (id, phone, metadata, sms_consent, created_at, updated_at) \
             VALUES ('{id}', '{phone}', '{{}}', '{consent}', 1, 1)"
            ),
        )
        .await;
        exec(
            &db,
            &format!(
                "INSERT INTO consent_changes (id, customer_id, state, source, actor, created_at) \
             VALUES ('cons_{id}', '{id}', 'opted_out', '{source}', 'SMS reply via Twilio', 5)"
            ),
        )
        .await;
    }
    Migrator::up(&db, Some(1)).await.unwrap();
    assert_eq!(
        number(&db, "SELECT COUNT(*) FROM sms_opt_outs").await,
        Some(1)
    );
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) FROM customers WHERE id = 'cust_d' AND sms_consent = 'opted_in'"
        )
        .await,
        Some(1)
    );
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        number(
            &db,
            "SELECT created_at FROM sms_opt_outs WHERE phone = '+14155550101'"
        )
        .await,
        Some(5)
    );
    // The other customer with that number is opted out now, with a ledger entry saying why.
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) FROM customers WHERE sms_consent = 'opted_out' AND id IN ('cust_a', 'cust_d')"
        )
        .await,
        Some(2)
    );
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) FROM consent_changes WHERE customer_id = 'cust_d' AND source = 'sms' AND state = 'opted_out'"
        )
        .await,
        Some(1)
    );
    // Nobody else moved.
    assert_eq!(
        number(&db, "SELECT COUNT(*) FROM consent_changes").await,
        Some(5)
    );
    assert_eq!(
        number(
            &db,
            "SELECT COUNT(*) FROM customers WHERE sms_consent = 'opted_in'"
        )
        .await,
        Some(1)
    );
    db.close().await.ok();
    if let Some(name) = name {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn number_opt_outs_sqlite() {
    number_opt_outs(Backend::Sqlite).await;
}

#[tokio::test]
async fn number_opt_outs_postgres() {
    number_opt_outs(Backend::Postgres).await;
}

/// Migration 14: the webhook nonces kept before were handled to the end, so their replays
/// stay refused rather than being read as requests still running.
async fn webhook_nonces_settled(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let (url, name) = fresh_database(backend, dir.path()).await;
    let db = server::db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(13)).await.unwrap();
    exec(
        &db,
        "INSERT INTO webhook_nonces (nonce, seen_at) VALUES ('int_p:v2:1', 7)",
    )
    .await;
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        number(
            &db,
            "SELECT settled_at FROM webhook_nonces WHERE nonce = 'int_p:v2:1'"
        )
        .await,
        Some(7)
    );
    // A process of the version before, still running, writes nonces without the new
    // columns: they count as settled, so nothing takes them over later.
    exec(
        &db,
        "INSERT INTO webhook_nonces (nonce, seen_at) VALUES ('int_p:v2:2', 8)",
    )
    .await;
    assert_eq!(
        number(
            &db,
            "SELECT settled_at FROM webhook_nonces WHERE nonce = 'int_p:v2:2'"
        )
        .await,
        Some(0)
    );
    // Rows without a request hash let no request in.
    for nonce in ["int_p:v2:1", "int_p:v2:2"] {
        assert_eq!(
            server::services::webhook_nonces::take(&db, nonce, "hash", 1_000_000_000)
                .await
                .unwrap(),
            server::services::webhook_nonces::Taken::Used,
            "{nonce}"
        );
    }
    // A nonce released after a failure of ours lets only its own request in again, at once;
    // one settled by its taker stays spent, and a stale taker settles or releases nothing.
    use server::services::webhook_nonces::{release, settle, take, Taken};
    let now = 2_000_000_000;
    let Taken::First { token } = take(&db, "int_p:v2:3", "h1", now).await.unwrap() else {
        panic!("a new nonce is taken");
    };
    assert_eq!(
        take(&db, "int_p:v2:3", "h1", now + 1).await.unwrap(),
        Taken::Running
    );
    release(&db, "int_p:v2:3", token).await.unwrap();
    assert_eq!(
        take(&db, "int_p:v2:3", "h2", now + 2).await.unwrap(),
        Taken::Used
    );
    let Taken::First { token: again } = take(&db, "int_p:v2:3", "h1", now + 3).await.unwrap()
    else {
        panic!("the same request is taken again");
    };
    release(&db, "int_p:v2:3", token).await.unwrap();
    settle(&db, "int_p:v2:3", token, now + 4).await.unwrap();
    assert_eq!(
        take(&db, "int_p:v2:3", "h1", now + 5).await.unwrap(),
        Taken::Running
    );
    settle(&db, "int_p:v2:3", again, now + 6).await.unwrap();
    assert_eq!(
        take(&db, "int_p:v2:3", "h1", now + 7).await.unwrap(),
        Taken::Used
    );
    db.close().await.ok();
    if let Some(name) = name {
        drop_database(&name).await;
    }
}

#[tokio::test]
async fn webhook_nonces_settled_sqlite() {
    webhook_nonces_settled(Backend::Sqlite).await;
}

#[tokio::test]
async fn webhook_nonces_settled_postgres() {
    webhook_nonces_settled(Backend::Postgres).await;
}
