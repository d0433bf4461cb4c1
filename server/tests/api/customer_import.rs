//! CSV import edge cases.

use crate::both_backends;
use serde_json::Value;

async fn import(app: &crate::helpers::TestApp, key: &str, body: Vec<u8>) -> (u16, Value) {
    let res = app
        .new_client()
        .post(app.url("/v1/customers/import"))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(body)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

both_backends! {
    async fn csv_rows_are_stored_and_bad_rows_reported(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let mut csv = "\u{feff}source_id,name,phone,email,metadata.tier,metadata.points,metadata.zip\n".as_bytes().to_vec();
        csv.extend_from_slice(b"c1,\"Ruiz, Marta\",+34 612 345 678,marta@example.com,gold,120,02134\n");
        csv.extend_from_slice(b"c2,Bad Phone,12,,silver,,\n");
        csv.extend_from_slice(b"c3,Bad \xff bytes,+34 612 345 679,,,,\n");
        csv.extend_from_slice(b"c1,Duplicate,+34 612 345 670,,,,\n");
        csv.extend_from_slice(b",No Source,+34 612 345 671,,,,\n");
        csv.extend_from_slice(b"c4,Too,many,values,here,1,2,3\n");
        csv.extend_from_slice(b"\n");
        csv.extend_from_slice(b"c5,\"Line\nBreak\",+1 415 555 0123,,,,\n");
        let (status, body) = import(&app, &key, csv).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["created"], 2, "{body}");
        assert_eq!(body["updated"], 0);
        let rejected: Vec<(u64, String)> = body["rejected"].as_array().unwrap().iter()
            .map(|r| (r["row"].as_u64().unwrap(), r["error"].as_str().unwrap().to_owned())).collect();
        let rows: Vec<u64> = rejected.iter().map(|r| r.0).collect();
        assert_eq!(rows, vec![3, 4, 5, 6, 7], "{rejected:?}");
        assert!(rejected[0].1.starts_with("phone:"), "{}", rejected[0].1);
        assert!(rejected[1].1.contains("UTF-8"));
        assert!(rejected[2].1.contains("already appears in row 2"));
        assert_eq!(body["rejected_count"], 5);

        let c1: Value = app.new_client().get(app.url("/v1/customers/c1")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(c1["name"], "Ruiz, Marta");
        assert_eq!(c1["phone"], "+34612345678");
        assert_eq!(c1["metadata"]["points"], 120);
        assert_eq!(c1["metadata"]["zip"], "02134");
        let c5: Value = app.new_client().get(app.url("/v1/customers/c5")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(c5["name"], "Line\nBreak");

        // Importing again updates instead of duplicating.
        let (_, again) = import(&app, &key, b"source_id,name\nc1,Marta Ruiz\n".to_vec()).await;
        assert_eq!((again["created"].as_u64(), again["updated"].as_u64()), (Some(0), Some(1)));
    }
}

both_backends! {
    async fn a_bad_header_rejects_the_file_with_a_reason(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let (status, body) = import(&app, &key, b"name,phone\nAna,+34612345678\n".to_vec()).await;
        assert_eq!(status, 422);
        assert!(body["error"]["message"].as_str().unwrap().contains("source_id column"));
        let (status, body) = import(&app, &key, b"source_id,favourite\nx,y\n".to_vec()).await;
        assert_eq!(status, 422);
        assert!(body["error"]["message"].as_str().unwrap().contains("Unknown column \"favourite\""));
        let (status, _) = import(&app, &key, Vec::new()).await;
        assert_eq!(status, 422);
    }
}

both_backends! {
    async fn a_large_import_is_stored_in_batches(app: TestApp) {
        app.with_admin().await;
        let key = app.api_key("marketer").await;
        let mut csv = String::from("source_id,name,phone,metadata.n\n");
        for i in 0..1200 {
            csv.push_str(&format!("s{i},Customer {i},+1 415 555 {:04},{i}\n", i % 10000));
        }
        let (status, body) = import(&app, &key, csv.into_bytes()).await;
        assert_eq!(status, 200);
        assert_eq!(body["created"], 1200, "{body}");
        let page: Value = app.new_client().get(app.url("/v1/customers?limit=500")).bearer_auth(&key).send().await.unwrap().json().await.unwrap();
        assert_eq!(page["has_more"], true);
    }
}

both_backends! {
    async fn the_ui_import_needs_a_session_and_refuses_other_sites(app: TestApp) {
        app.with_admin().await;
        let csv = b"source_id,name\nu1,Una\n".to_vec();
        let anonymous = app.new_client().post(app.url("/app/customers/import")).body(csv.clone()).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let forged = app.client.post(app.url("/app/customers/import"))
            .header("origin", "https://evil.example").header("sec-fetch-site", "cross-site")
            .body(csv.clone()).send().await.unwrap();
        assert_eq!(forged.status(), 403);
        let ok = app.client.post(app.url("/app/customers/import")).body(csv).send().await.unwrap();
        assert_eq!(ok.status(), 200);
        let body: Value = ok.json().await.unwrap();
        assert_eq!(body["created"], 1);
    }
}
