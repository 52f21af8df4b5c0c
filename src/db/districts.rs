//! The district table: which electoral district a postal code is in, as organisers import
//! it (a full postal code, or its first three characters, to a district).

use crate::db::{Db, DbError};

/// A postal code as the table keys it: capitals and digits only ("k1a 0b1" → "K1A0B1").
pub fn postal_key(postal_code: &str) -> String {
    postal_code.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_uppercase()).collect()
}

/// Stores `rows` of `(postal code or prefix, district)`, in one transaction; with `replace`,
/// the previous table goes in the same transaction (new boundaries after a redistribution).
/// Returns how many rows the table now holds.
pub async fn import(db: &Db, rows: &[(String, String)], replace: bool) -> Result<i64, DbError> {
    let count = on_writer!(db, pool => {
        let mut tx = pool.begin().await?;
        if replace {
            sqlx::query("delete from districts").execute(&mut *tx).await?;
        }
        for (prefix, district) in rows {
            sqlx::query("insert into districts (postal_prefix, district) values ($1, $2) on conflict do nothing")
                .bind(postal_key(prefix))
                .bind(district.trim())
                .execute(&mut *tx)
                .await?;
        }
        let count: i64 = sqlx::query_scalar("select count(*) from districts").fetch_one(&mut *tx).await?;
        tx.commit().await?;
        count
    });
    Ok(count)
}

/// The districts of a postal code: those listed for the full code if there are any, else
/// those of its first three characters (which may be several).
pub async fn lookup(db: &Db, postal_code: &str) -> Result<Vec<String>, DbError> {
    let key = postal_key(postal_code);
    let prefix: String = key.chars().take(3).collect();
    let rows: Vec<(String, String)> = on_reader!(db, pool => sqlx::query_as(
        "select postal_prefix, district from districts where postal_prefix in ($1, $2) order by district")
        .bind(&key).bind(&prefix).fetch_all(pool).await)?;
    let exact: Vec<String> = rows.iter().filter(|(p, _)| *p == key).map(|(_, d)| d.clone()).collect();
    Ok(if exact.is_empty() { rows.into_iter().map(|(_, d)| d).collect() } else { exact })
}

pub async fn count(db: &Db) -> Result<i64, DbError> {
    Ok(on_reader!(db, pool => sqlx::query_scalar("select count(*) from districts").fetch_one(pool).await)?)
}

/// Every row, for `districts export`.
pub async fn list(db: &Db) -> Result<Vec<(String, String)>, DbError> {
    Ok(on_reader!(db, pool => sqlx::query_as(
        "select postal_prefix, district from districts order by postal_prefix, district").fetch_all(pool).await)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postal_keys_ignore_case_and_spacing() {
        assert_eq!(postal_key(" k1a 0b1 "), "K1A0B1");
        assert_eq!(postal_key("K1A-0B1"), "K1A0B1");
        assert_eq!(postal_key("90210"), "90210");
    }
}
