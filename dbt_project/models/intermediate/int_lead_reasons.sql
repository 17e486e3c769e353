{#- Per contact with scoring signals: the reasons text pushed to the CRM, the top four positive
    then the top three negative signals of int_lead_signals. Its own node rather than a CTE of
    fct_lead_qualification: ranking every contact's signals is the costliest step of an hourly
    build (about 20 s at 1M contacts), and as its own node it runs beside the engagement and stage
    models, which it does not read, instead of after them. -#}
with

signals as (

    select * from {{ ref('int_lead_signals') }}

),

final as (

    select
        contact_id,
        left(
            string_agg(
                signal_text, '; '
                order by case when direction = 'positive' then 0 else 1 end asc, signal_rank asc
            ),
            500
        ) as leadflow_reasons
    from signals
    where (direction = 'positive' and signal_rank <= 4) or (direction = 'negative' and signal_rank <= 3)
    group by contact_id

)

select * from final
