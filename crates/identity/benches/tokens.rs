//! Token issuing and refresh costs: signing an ID + access token pair per algorithm, a
//! machine token, and a whole refresh (lookup, rotation and a new pair) on SQLite.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness"
)]

use std::collections::BTreeMap;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_identity::keys::{KeyAlg, KeyRing, generate};
use portcullis_identity::password::HashParams;
use portcullis_identity::service::{ClientProof, IdentityService, IdentitySettings};
use portcullis_identity::throttle::ThrottleSettings;
use portcullis_identity::tokens::{Grant, TokenIssuer};
use portcullis_identity::{AppClient, Group, NewUser, Secret, Store, User};

fn client() -> AppClient {
    AppClient {
        client_id: "portcullis".into(),
        name: "default".into(),
        secret: None,
        auth_flows: vec!["USER_PASSWORD_AUTH".into(), "REFRESH_TOKEN_AUTH".into()],
        scopes: vec!["openid".into()],
        access_ttl: 3600,
        id_ttl: 3600,
        refresh_ttl: 30 * 86_400,
    }
}

fn issue(c: &mut Criterion) {
    portcullis_identity::install_crypto_provider();
    let user = User {
        sub: "0b6e1c8e-5f0e-4f52-8d2b-6a4d2bb0f001".into(),
        username: "alice".into(),
        enabled: true,
        password_hash: Secret::new(String::new()),
        email: Some("alice@example.com".into()),
        attributes: BTreeMap::new(),
        signed_out_at: 0,
        created_at: 0,
        updated_at: 0,
    };
    let groups = [Group {
        name: "readers".into(),
        description: String::new(),
        precedence: 1,
        role: Some("reader".into()),
    }];
    let client = client();
    let scopes = vec!["openid".to_owned()];
    let issuer = TokenIssuer::new("http://127.0.0.1:8080");
    for alg in [KeyAlg::Rs256, KeyAlg::Es256, KeyAlg::EdDsa] {
        let ring = KeyRing::from_records_at(&[generate(alg, 0).unwrap()], 1_000_000).unwrap();
        c.bench_function(&format!("issue id+access pair {}", alg.name()), |b| {
            b.iter(|| {
                issuer
                    .issue(
                        &ring,
                        &Grant {
                            user: &user,
                            groups: &groups,
                            limits: None,
                            client: &client,
                            scopes: &scopes,
                            auth_time: 1_000_000,
                            origin_jti: None,
                            now: 1_000_000,
                        },
                    )
                    .unwrap()
            })
        });
        c.bench_function(&format!("issue machine token {}", alg.name()), |b| {
            b.iter(|| {
                issuer
                    .issue_machine(&ring, &client, &scopes, 1_000_000)
                    .unwrap()
            })
        });
    }
}

fn refresh(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let svc = rt.block_on(async {
        let store = Store::open_sqlite(&dir.path().join("bench.db"))
            .await
            .unwrap();
        let svc = IdentityService::start(
            store,
            IdentitySettings {
                issuer: "http://127.0.0.1:8080".into(),
                algorithm: KeyAlg::Rs256,
                default_client: client(),
                hash_params: HashParams {
                    memory_kib: 64,
                    iterations: 1,
                    parallelism: 1,
                },
                max_concurrent_hashes: 1,
                max_queued_hashes: 16,
                throttle: ThrottleSettings {
                    free_attempts: 5,
                    base_delay_ms: 1000,
                    max_delay_ms: 60_000,
                },
                secrets_key: None,
            },
        )
        .await
        .unwrap();
        let hash = svc.hasher().hash("bench-password-1").await.unwrap();
        svc.store()
            .create_user(&NewUser {
                username: "alice".into(),
                password_hash: hash,
                email: None,
                attributes: BTreeMap::new(),
            })
            .await
            .unwrap();
        svc
    });
    let now = portcullis_identity::store::now();
    let mut token = rt
        .block_on(svc.issue_for("alice", None, now))
        .unwrap()
        .refresh_token;
    c.bench_function("refresh on SQLite (RS256)", |b| {
        b.iter(|| {
            let s = rt
                .block_on(svc.refresh(&token, None, ClientProof::None, now))
                .unwrap();
            token = s.refresh_token;
        })
    });
}

fn raw(c: &mut Criterion) {
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der: aws_lc_rs::encoding::Pkcs8V1Der<'static> =
        aws_lc_rs::encoding::AsDer::as_der(&kp).unwrap();
    let msg = [7u8; 600];
    let mut sig = vec![0u8; kp.public_modulus_len()];
    let rng = aws_lc_rs::rand::SystemRandom::new();
    c.bench_function("raw RSA-2048 sign, parsed key", |b| {
        b.iter(|| {
            kp.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                &msg,
                &mut sig,
            )
            .unwrap()
        })
    });
    c.bench_function("raw RSA-2048 sign, parse key each time", |b| {
        b.iter(|| {
            let k = aws_lc_rs::rsa::KeyPair::from_pkcs8(der.as_ref()).unwrap();
            k.sign(
                &aws_lc_rs::signature::RSA_PKCS1_SHA256,
                &rng,
                &msg,
                &mut sig,
            )
            .unwrap()
        })
    });
}

criterion_group!(benches, raw, issue, refresh);
criterion_main!(benches);
