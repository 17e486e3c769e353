{#- Per lead, every positive and negative scoring signal with its points and rank (rank 1 = strongest). -#}
with

signals as (

    select * from {{ ref('int_lead_signals') }}

),

final as (

    select
        md5(cast(contact_id as text) || '|' || signal_category || '|' || signal_key) as signal_id,
        contact_id,
        signal_category,
        signal_key,
        direction,
        signal_rank,
        points,
        label,
        event_count,
        signal_at,
        signal_text
    from signals

)

select * from final
