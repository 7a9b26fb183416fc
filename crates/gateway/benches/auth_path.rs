//! The authentication and authorization stages on their own: a cached RS256 token
//! (digest, cache hit, revocation check, scopes) and the role policy evaluated against the
//! method ARN; then the same with the token's first sight (signature verified); and the
//! refused-token path.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "benchmark harness"
)]

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use portcullis_gateway::auth::{self, Caller, RequestKeys};

const YAML: &str = r#"
api: {id: bench, stage: bench, region: us-east-1, account: "123456789012"}
listener: {address: 127.0.0.1:0}
resources:
  /{proxy+}:
    ANY:
      integration: {type: mock}
identity:
  database: DB
  issuer: http://127.0.0.1:18083
  password_hashing: {memory: 64KiB, iterations: 1}
authorizers:
  pool: {type: jwt, issuer: builtin, token_use: access}
authorization:
  default_authorizer: pool
  group_roles: {viewers: viewer}
  roles:
    viewer:
      Version: "2012-10-17"
      Statement:
        - {Sid: Reads, Effect: Allow, Action: execute-api:Invoke, Resource: execute-api:/*/GET/*}
        - {Sid: NoAdmin, Effect: Deny, Action: execute-api:Invoke, Resource: execute-api:/*/*/admin/*}
"#;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let yaml = YAML.replace("DB", &dir.path().join("id.db").display().to_string());
    let config = portcullis_config::load_str("bench.yaml", &yaml, dir.path(), &|_| None).unwrap();
    let (svc, token) = rt.block_on(async {
        let svc = Arc::new(
            portcullis_gateway::identity_endpoints::open_service(config.identity.as_ref().unwrap())
                .await
                .unwrap(),
        );
        let store = svc.store();
        store
            .create_group(&portcullis_identity::Group {
                name: "viewers".into(),
                description: String::new(),
                precedence: 1,
                role: None,
            })
            .await
            .unwrap();
        let hash = svc.hasher().hash("bench-password-1").await.unwrap();
        store
            .create_user(&portcullis_identity::NewUser {
                username: "bench".into(),
                password_hash: hash,
                email: None,
                attributes: Default::default(),
            })
            .await
            .unwrap();
        store.add_to_group("bench", "viewers").await.unwrap();
        let s = svc
            .issue_for("bench", None, portcullis_identity::store::now())
            .await
            .unwrap();
        (svc, s.tokens.access_token)
    });
    let clients = portcullis_gateway::integration::clients::UpstreamClients::default();
    let carry = portcullis_gateway::carry::Carry::default();
    let plan = portcullis_gateway::Plan::compile(
        config,
        1,
        &clients,
        &carry,
        portcullis_gateway::PoolHandle::Serving(Some(&svc)),
    )
    .unwrap();
    let authorizer = plan.apis[0].authorizers.first().unwrap().clone();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::AUTHORIZATION,
        format!("Bearer {token}").parse().unwrap(),
    );
    let uri: http::Uri = "/pets/7".parse().unwrap();
    let ctx = portcullis_gateway::context::RequestCtx::new(
        http::Method::GET,
        &uri,
        http::Version::HTTP_11,
        &headers,
        "127.0.0.1".parse().unwrap(),
        false,
    );
    let now = portcullis_identity::store::now();
    c.bench_function("authenticate + authorize, cached RS256 token", |b| {
        b.iter(|| {
            let mut arn = String::with_capacity(plan.apis[0].stages[0].arn_prefix.len() + 64);
            arn.push_str(&plan.apis[0].stages[0].arn_prefix);
            portcullis_core::push_method_arn(
                &mut arn,
                "GET",
                &portcullis_core::CanonicalPath::parse("/pets/7").unwrap(),
            );
            let p = rt
                .block_on(authorizer.authenticate(&headers, &[], now))
                .unwrap();
            let caller = Caller::Principal(p);
            let keys = RequestKeys {
                ctx: &ctx,
                headers: &headers,
                caller: &caller,
            };
            auth::authorize(&plan.apis[0].authorization, &arn, &keys, false).unwrap()
        })
    });
    // The same decision by Cedar, ten policies.
    let mut cedar = String::new();
    for i in 0..9 {
        cedar.push_str(&format!(
            "permit(principal in Portcullis::Group::\"team{i}\", action in Portcullis::Action::\"POST\", resource) when {{ context.secure }};\n"
        ));
    }
    cedar.push_str("permit(principal in Portcullis::Group::\"viewers\", action in Portcullis::Action::\"GET\", resource);\n");
    let mut cfg2 = plan.config.clone();
    cfg2.apis[0].authorization.roles.clear();
    cfg2.apis[0].authorization.cedar = Some(portcullis_config::CedarSource {
        text: cedar,
        file: None,
        loc: portcullis_config::Loc::default(),
    });
    let plan2 = portcullis_gateway::Plan::compile(
        cfg2,
        2,
        &clients,
        &carry,
        portcullis_gateway::PoolHandle::Serving(Some(&svc)),
    )
    .unwrap();
    let p = rt
        .block_on(authorizer.authenticate(&headers, &[], now))
        .unwrap();
    let caller = Caller::Principal(p);
    let mut ctx2 = portcullis_gateway::context::RequestCtx::new(
        http::Method::GET,
        &uri,
        http::Version::HTTP_11,
        &headers,
        "127.0.0.1".parse().unwrap(),
        false,
    );
    ctx2.resource = Some(std::sync::Arc::from("/pets/{id}"));
    let mut arn = plan2.apis[0].stages[0].arn_prefix.clone();
    portcullis_core::push_method_arn(
        &mut arn,
        "GET",
        &portcullis_core::CanonicalPath::parse("/pets/7").unwrap(),
    );
    c.bench_function("authorize with Cedar, 10 policies", |b| {
        b.iter(|| {
            let keys = RequestKeys {
                ctx: &ctx2,
                headers: &headers,
                caller: &caller,
            };
            auth::authorize(&plan2.apis[0].authorization, &arn, &keys, false).unwrap()
        })
    });
    // First sight of a token: a fresh plan each time would rebuild keys too; instead a
    // distinct valid token per iteration is not possible, so measure the signature check
    // with the refused-token cache out of the way: a token whose payload differs.
    let mut bad = headers.clone();
    let tampered = format!("Bearer {}AAAA", token.get(..token.len() - 4).unwrap());
    bad.insert(http::header::AUTHORIZATION, tampered.parse().unwrap());
    c.bench_function("refused token, remembered", |b| {
        b.iter(|| {
            rt.block_on(authorizer.authenticate(&bad, &[], now))
                .unwrap_err()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
