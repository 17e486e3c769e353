{#- Per live lead, every positive and negative scoring signal with its points and rank within its
    direction (rank 1 = strongest, in signal_rank_order(), the order the reasons text uses). -#}
with

signals as (

    select * from {{ ref('int_lead_signals_listed') }}

),

contacts as (

    select * from {{ ref('int_contacts_enriched') }}

),

final as (

    select
        md5(cast(signals.contact_id as text) || '|' || signals.signal_category || '|' || signals.signal_key)
            as signal_id,
        signals.contact_id,
        signals.signal_category,
        signals.signal_key,
        signals.direction,
        row_number() over (
            partition by signals.contact_id, signals.direction order by {{ signal_rank_order('signals') }}
        ) as signal_rank,
        signals.points,
        signals.label,
        signals.event_count,
        signals.signal_at,
        signals.signal_text
    from signals
    inner join contacts on signals.contact_id = contacts.contact_id

)

select * from final
