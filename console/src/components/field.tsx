import type { ComponentChildren } from 'preact';

/** A DOM id for a field named by its API path (`configuration.event.notification.callback.url`). */
export const fieldId = (path: string) => `field-${path.replace(/[^A-Za-z0-9_-]/g, '-')}`;

/** The hint and the error a control is described by, so screen readers read them with its label. */
function describedBy(id: string, hint?: ComponentChildren, errors?: string[]) {
  return [hint ? `${id}-hint` : '', errors?.length ? `${id}-error` : ''].filter(Boolean).join(' ') || undefined;
}

function FieldMessages({ id, hint, errors }: { id: string; hint?: ComponentChildren; errors?: string[] }) {
  return (
    <>
      {hint ? (
        <p id={`${id}-hint`} class="hint">
          {hint}
        </p>
      ) : null}
      {errors?.length ? (
        <p id={`${id}-error`} class="field-error">
          {errors.join('; ')}
        </p>
      ) : null}
    </>
  );
}

interface TextFieldProps {
  path: string;
  label: string;
  value: string;
  onInput?: (value: string) => void;
  type?: 'text' | 'password' | 'url' | 'number';
  required?: boolean;
  readOnly?: boolean;
  hint?: ComponentChildren;
  errors?: string[];
  autoComplete?: string;
  step?: string;
  min?: string;
}

export function TextField(p: TextFieldProps) {
  const id = fieldId(p.path);
  return (
    // The required mark is drawn by CSS with empty alternative text: the input's own `required` says it to assistive tech.
    <div class={`field${p.required ? ' required' : ''}${p.errors?.length ? ' invalid' : ''}`}>
      <label for={id}>{p.label}</label>
      <input
        id={id}
        name={p.path}
        // Preact's types tell input kinds apart; this one component serves the few text-like ones.
        type={(p.type ?? 'text') as 'text'}
        value={p.value}
        onInput={(e) => p.onInput?.(e.currentTarget.value)}
        required={p.required}
        readOnly={p.readOnly}
        autoComplete={p.autoComplete ?? (p.type === 'password' ? 'new-password' : 'off')}
        spellcheck={false}
        step={p.step}
        min={p.min}
        aria-invalid={p.errors?.length ? true : undefined}
        aria-describedby={describedBy(id, p.hint, p.errors)}
      />
      <FieldMessages id={id} hint={p.hint} errors={p.errors} />
    </div>
  );
}

interface CheckboxProps {
  path: string;
  label: ComponentChildren;
  checked: boolean;
  onChange: (checked: boolean) => void;
  hint?: ComponentChildren;
  errors?: string[];
}

export function Checkbox(p: CheckboxProps) {
  const id = fieldId(p.path);
  return (
    <div class={`field checkbox${p.errors?.length ? ' invalid' : ''}`}>
      <input
        id={id}
        type="checkbox"
        checked={p.checked}
        onChange={(e) => p.onChange(e.currentTarget.checked)}
        aria-invalid={p.errors?.length ? true : undefined}
        aria-describedby={describedBy(id, p.hint, p.errors)}
      />
      <label for={id}>{p.label}</label>
      <FieldMessages id={id} hint={p.hint} errors={p.errors} />
    </div>
  );
}

/** A group of checkboxes (resources, objects) with one legend and the group's own error. */
export function CheckboxGroup(p: {
  path: string;
  legend: string;
  hint?: ComponentChildren;
  errors?: string[];
  children: ComponentChildren;
}) {
  const id = fieldId(p.path);
  return (
    <fieldset id={id} class={`group${p.errors?.length ? ' invalid' : ''}`} aria-describedby={describedBy(id, p.hint, p.errors)}>
      <legend>{p.legend}</legend>
      <FieldMessages id={id} hint={p.hint} errors={p.errors} />
      {p.children}
    </fieldset>
  );
}

/** What went wrong with a submitted form: the API's message, and the errors no field shows. */
export function ErrorSummary({ message, errors }: { message?: string; errors?: { path: string; message: string }[] }) {
  if (!message && !errors?.length) return null;
  return (
    <div class="error-summary" role="alert">
      {message ? <p>{message}</p> : null}
      {errors?.length ? (
        <ul>
          {errors.map((e) => (
            <li key={`${e.path}:${e.message}`}>
              <code>{e.path}</code>: {e.message}
            </li>
          ))}
        </ul>
      ) : null}
    </div>
  );
}
