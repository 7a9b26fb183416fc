//! API keys in the store: created with a value (kept as its digest), found by id or name,
//! enabled, disabled, rotated, deleted, and attached to usage plans by name.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Result, Store, StoreError, hex, map_unique, now};
use crate::api_keys::{ApiKey, PlanMembership, hint, new_id, value_digest};

/// A key to create.
#[derive(Debug, Clone)]
pub struct NewApiKey<'a> {
    /// Its unique name.
    pub name: &'a str,
    /// Free text.
    pub description: &'a str,
    /// Its value (checked by the caller with [`crate::api_keys::valid_value`]).
    pub value: &'a str,
    /// Whether it starts enabled.
    pub enabled: bool,
    /// The usage plans it is attached to from the start.
    pub plans: &'a [&'a str],
}

/// `SELECT` of a key's columns, then `$tail`.
macro_rules! key_select {
    ($tail:literal) => {
        concat!(
            "SELECT id, name, hint, enabled, description, created_at, updated_at, value_hash FROM api_keys ",
            $tail
        )
    };
}

fn key_from_row(r: &AnyRow) -> Result<ApiKey> {
    Ok(ApiKey {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        hint: r.try_get("hint")?,
        enabled: r.try_get::<i64, _>("enabled")? != 0,
        description: r.try_get("description")?,
        plans: Vec::new(),
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

fn digest_from_hex(s: &str) -> Result<[u8; 32]> {
    let bad = || StoreError::Corrupt("api key digest".into());
    if s.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        let pair = s.get(i * 2..i * 2 + 2).ok_or_else(bad)?;
        *b = u8::from_str_radix(pair, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

impl Store {
    /// Creates a key, attached to `plans`, in one transaction. Names and values are
    /// unique, and a name is never another key's id (nor an id another key's name), so a
    /// key found by id or name is always the one meant.
    pub async fn create_api_key(&self, new: &NewApiKey<'_>) -> Result<ApiKey> {
        let t = now();
        let id = self
            .retrying(|| {
                Box::pin(async move {
                    let mut tx = self.begin_write().await?;
                    let taken = |v: &str| {
                        sqlx::query("SELECT COUNT(*) AS n FROM api_keys WHERE id = $1 OR name = $1")
                            .bind(v.to_owned())
                    };
                    let n: i64 = taken(new.name).fetch_one(&mut *tx).await?.try_get("n")?;
                    if n > 0 {
                        return Err(StoreError::Conflict(format!(
                            "API key `{}` (a key has that name or id)",
                            new.name
                        )));
                    }
                    let mut id = new_id();
                    while taken(&id).fetch_one(&mut *tx).await?.try_get::<i64, _>("n")? > 0 {
                        id = new_id();
                    }
                    sqlx::query(
                        "INSERT INTO api_keys (id, name, value_hash, hint, enabled, description, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
                    )
                    .bind(id.clone())
                    .bind(new.name)
                    .bind(hex(&value_digest(new.value)))
                    .bind(hint(new.value))
                    .bind(i64::from(new.enabled))
                    .bind(new.description)
                    .bind(t)
                    .execute(&mut *tx)
                    .await
                    .map_err(|e| map_unique(e, || format!("API key `{}` (or its value)", new.name)))?;
                    for plan in new.plans {
                        sqlx::query(
                            "INSERT INTO api_key_plans (key_id, plan, attached_at) VALUES ($1, $2, $3)",
                        )
                        .bind(id.clone())
                        .bind(*plan)
                        .bind(t)
                        .execute(&mut *tx)
                        .await?;
                    }
                    tx.commit().await?;
                    Ok(id)
                })
            })
            .await?;
        self.api_key(&id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("API key `{id}`")))
    }

    /// The key with this id or name, with its plans.
    pub async fn api_key(&self, id_or_name: &str) -> Result<Option<ApiKey>> {
        let row = sqlx::query(key_select!(
            "WHERE id = $1 OR name = $1 ORDER BY CASE WHEN id = $1 THEN 0 ELSE 1 END LIMIT 1"
        ))
        .bind(id_or_name.to_owned())
        .fetch_optional(&mut *self.conn().await?)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut key = key_from_row(&row)?;
        let plans = sqlx::query(
            "SELECT plan, attached_at FROM api_key_plans WHERE key_id = $1 ORDER BY plan",
        )
        .bind(key.id.clone())
        .fetch_all(&mut *self.conn().await?)
        .await?;
        for p in &plans {
            key.plans.push(PlanMembership {
                plan: p.try_get("plan")?,
                attached_at: p.try_get("attached_at")?,
            });
        }
        Ok(Some(key))
    }

    /// Every key with its plans and its value's digest, by name.
    pub async fn api_keys_with_digests(&self) -> Result<Vec<([u8; 32], ApiKey)>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(key_select!("ORDER BY name"))
            .fetch_all(&mut *conn)
            .await?;
        let plans =
            sqlx::query("SELECT key_id, plan, attached_at FROM api_key_plans ORDER BY plan")
                .fetch_all(&mut *conn)
                .await?;
        let mut by_id: std::collections::HashMap<String, Vec<PlanMembership>> =
            std::collections::HashMap::new();
        for p in &plans {
            by_id
                .entry(p.try_get("key_id")?)
                .or_default()
                .push(PlanMembership {
                    plan: p.try_get("plan")?,
                    attached_at: p.try_get("attached_at")?,
                });
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut key = key_from_row(r)?;
            key.plans = by_id.remove(&key.id).unwrap_or_default();
            out.push((
                digest_from_hex(&r.try_get::<String, _>("value_hash")?)?,
                key,
            ));
        }
        Ok(out)
    }

    /// Every key with its plans, by name.
    pub async fn list_api_keys(&self) -> Result<Vec<ApiKey>> {
        Ok(self
            .api_keys_with_digests()
            .await?
            .into_iter()
            .map(|(_, k)| k)
            .collect())
    }

    /// The id of the key with this id or name.
    async fn api_key_id(&self, id_or_name: &str) -> Result<String> {
        self.api_key(id_or_name)
            .await?
            .map(|k| k.id)
            .ok_or_else(|| StoreError::NotFound(format!("API key `{id_or_name}`")))
    }

    /// Enables or disables a key.
    pub async fn set_api_key_enabled(&self, id_or_name: &str, enabled: bool) -> Result<()> {
        let id = self.api_key_id(id_or_name).await?;
        sqlx::query("UPDATE api_keys SET enabled = $1, updated_at = $2 WHERE id = $3")
            .bind(i64::from(enabled))
            .bind(now())
            .bind(id)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }

    /// Gives a key a new value; the old one stops working at once.
    pub async fn rotate_api_key(&self, id_or_name: &str, value: &str) -> Result<()> {
        let id = self.api_key_id(id_or_name).await?;
        sqlx::query(
            "UPDATE api_keys SET value_hash = $1, hint = $2, updated_at = $3 WHERE id = $4",
        )
        .bind(hex(&value_digest(value)))
        .bind(hint(value))
        .bind(now())
        .bind(id)
        .execute(&mut *self.conn().await?)
        .await
        .map_err(|e| map_unique(e, || "an API key with this value".to_owned()))?;
        Ok(())
    }

    /// Deletes a key (and its plan memberships).
    pub async fn delete_api_key(&self, id_or_name: &str) -> Result<()> {
        let id = self.api_key_id(id_or_name).await?;
        self.delete_one("DELETE FROM api_keys WHERE id = $1", &id, || {
            format!("API key `{id_or_name}`")
        })
        .await
    }

    /// Attaches a key to the usage plan `plan`.
    pub async fn attach_api_key(&self, id_or_name: &str, plan: &str) -> Result<()> {
        let id = self.api_key_id(id_or_name).await?;
        let t = now();
        self.retrying(|| {
            let id = id.clone();
            Box::pin(async move {
                let mut tx = self.begin_write().await?;
                sqlx::query(
                    "INSERT INTO api_key_plans (key_id, plan, attached_at) VALUES ($1, $2, $3)",
                )
                .bind(id.clone())
                .bind(plan)
                .bind(t)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    map_unique(e, || format!("API key `{id_or_name}` in plan `{plan}`"))
                })?;
                sqlx::query("UPDATE api_keys SET updated_at = $1 WHERE id = $2")
                    .bind(t)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            })
        })
        .await
    }

    /// Detaches a key from the usage plan `plan`.
    pub async fn detach_api_key(&self, id_or_name: &str, plan: &str) -> Result<()> {
        let id = self.api_key_id(id_or_name).await?;
        let done = sqlx::query("DELETE FROM api_key_plans WHERE key_id = $1 AND plan = $2")
            .bind(id.clone())
            .bind(plan)
            .execute(&mut *self.conn().await?)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound(format!(
                "API key `{id_or_name}` in plan `{plan}`"
            )));
        }
        sqlx::query("UPDATE api_keys SET updated_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&mut *self.conn().await?)
            .await?;
        Ok(())
    }
}
