use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Customers {
    Table,
    Id,
    SourceId,
    Name,
    Email,
    Phone,
    Timezone,
    Metadata,
    SmsConsent,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConsentChanges {
    Table,
    Id,
    CustomerId,
    State,
    Source,
    Actor,
    CreatedAt,
}

#[derive(DeriveIden)]
enum InstanceSettings {
    Table,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Customers::Table)
                    .col(
                        ColumnDef::new(Customers::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    // The caller's own id; unique where present (several NULLs are allowed).
                    .col(
                        ColumnDef::new(Customers::SourceId)
                            .string()
                            .null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Customers::Name).string().null())
                    .col(ColumnDef::new(Customers::Email).string().null())
                    // E.164 only.
                    .col(ColumnDef::new(Customers::Phone).string().null())
                    .col(ColumnDef::new(Customers::Timezone).string().null())
                    // JSON object, stored as text so both databases read it the same way.
                    .col(ColumnDef::new(Customers::Metadata).text().not_null())
                    .col(ColumnDef::new(Customers::SmsConsent).string().not_null())
                    .col(
                        ColumnDef::new(Customers::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Customers::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            ("idx_customers_phone", Customers::Phone),
            ("idx_customers_email", Customers::Email),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Customers::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ConsentChanges::Table)
                    .col(
                        ColumnDef::new(ConsentChanges::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(ConsentChanges::CustomerId)
                            .string()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ConsentChanges::State).string().not_null())
                    .col(ColumnDef::new(ConsentChanges::Source).string().not_null())
                    .col(ColumnDef::new(ConsentChanges::Actor).string().null())
                    .col(
                        ColumnDef::new(ConsentChanges::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConsentChanges::Table, ConsentChanges::CustomerId)
                            .to(Customers::Table, Customers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_consent_changes_customer")
                    .table(ConsentChanges::Table)
                    .col(ConsentChanges::CustomerId)
                    .col(ConsentChanges::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InstanceSettings::Table)
                    .col(
                        ColumnDef::new(InstanceSettings::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(InstanceSettings::Value).text().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ConsentChanges::Table.into_iden(),
            Customers::Table.into_iden(),
            InstanceSettings::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
