/** The event-type catalog: each type with its description, JSON Schema and first example. */
import { Json, Title, usePortal } from './ui';

export function CatalogScreen() {
  const { catalog } = usePortal();
  return (
    <section>
      <Title>Event catalog</Title>
      {catalog.length === 0 && <p>The catalog has no event types yet.</p>}
      {catalog.map((t) => (
        <article class="panel" key={t.name} aria-labelledby={`type-${t.name}`}>
          <h2 id={`type-${t.name}`}>
            <code>{t.name}</code> {t.deprecated && <span class="badge badge-failed">deprecated</span>}
          </h2>
          {t.description && <p>{t.description}</p>}
          <div class="columns">
            <div>
              <h3>Schema</h3>
              {t.schema ? (
                <Json value={t.schema} label={`JSON Schema of ${t.name}`} />
              ) : (
                <p class="muted">No schema.</p>
              )}
            </div>
            <div>
              <h3>Example</h3>
              {t.examples[0] ? (
                <Json value={t.examples[0]} label={`Example data of ${t.name}`} />
              ) : (
                <p class="muted">No example.</p>
              )}
            </div>
          </div>
        </article>
      ))}
    </section>
  );
}
