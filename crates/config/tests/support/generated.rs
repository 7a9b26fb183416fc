//! A generated OpenAPI document with many operations, for the import tests and the
//! loading benchmark (`benches/openapi.rs`).
#![allow(dead_code, clippy::unwrap_used, reason = "test support")]

use std::fmt::Write as _;

/// A document with `paths` paths of two operations each (a GET to an HTTP backend, a POST
/// to a Lambda function with a validated body), a Cognito authorizer and a model.
pub fn generated_document(paths: usize) -> String {
    let mut doc = String::from(
        "{\n  \"openapi\" : \"3.0.1\",\n  \"info\" : {\"title\" : \"generated\", \"version\" : \"1\"},\n  \"paths\" : {\n",
    );
    for i in 0..paths {
        let comma = if i + 1 == paths { "" } else { "," };
        write!(
            doc,
            "    \"/items{i}/{{id}}\" : {{\n      \"get\" : {{\n        \"parameters\" : [{{\"name\" : \"id\", \"in\" : \"path\", \"required\" : true, \"schema\" : {{\"type\" : \"string\"}}}}, {{\"name\" : \"page\", \"in\" : \"query\", \"schema\" : {{\"type\" : \"integer\"}}}}],\n        \"x-amazon-apigateway-integration\" : {{\"type\" : \"http_proxy\", \"httpMethod\" : \"GET\", \"uri\" : \"http://backend.example.com/items{i}/{{id}}\", \"timeoutInMillis\" : 5000}}\n      }},\n      \"post\" : {{\n        \"security\" : [{{\"pool\" : [\"items/write\"]}}],\n        \"x-amazon-apigateway-request-validator\" : \"all\",\n        \"requestBody\" : {{\"content\" : {{\"application/json\" : {{\"schema\" : {{\"$ref\" : \"#/components/schemas/Item\"}}}}}}}},\n        \"x-amazon-apigateway-integration\" : {{\"type\" : \"aws_proxy\", \"httpMethod\" : \"POST\", \"uri\" : \"arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:items{i}/invocations\"}}\n      }}\n    }}{comma}\n"
        )
        .unwrap();
    }
    doc.push_str("  },\n  \"x-amazon-apigateway-request-validators\" : {\"all\" : {\"validateRequestBody\" : true, \"validateRequestParameters\" : true}},\n  \"components\" : {\n    \"securitySchemes\" : {\"pool\" : {\"type\" : \"apiKey\", \"name\" : \"Authorization\", \"in\" : \"header\", \"x-amazon-apigateway-authtype\" : \"cognito_user_pools\", \"x-amazon-apigateway-authorizer\" : {\"type\" : \"cognito_user_pools\", \"providerARNs\" : [\"arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_AbC\"]}}},\n    \"schemas\" : {\"Item\" : {\"type\" : \"object\", \"required\" : [\"name\"], \"properties\" : {\"name\" : {\"type\" : \"string\"}, \"qty\" : {\"type\" : \"integer\", \"minimum\" : 1}}}}\n  }\n}\n");
    doc
}
