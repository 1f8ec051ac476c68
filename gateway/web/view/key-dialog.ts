// The API-key prompt: a modal dialog shown only when the gateway refuses to answer without a key
// (a REST 401, or a WebSocket closed with 4001 when the key is revoked). The key is checked
// against REST before the page uses it, so a wrong key is reported here, not as a failed socket.
import { looksLikeKey } from '../key.js';

export type KeyReason = 'needed' | 'refused' | 'revoked';
export type KeyVerdict = 'ok' | 'refused' | 'unreachable';

export interface KeyDialogDeps {
  dialog: HTMLDialogElement;
  form: HTMLFormElement;
  input: HTMLInputElement;
  error: HTMLElement;
  /** Stores the key and asks the gateway whether it takes it. */
  tryKey(key: string): Promise<KeyVerdict>;
  accepted(): void;
}

const MESSAGES: Record<KeyReason, string> = {
  needed: '',
  refused: 'The gateway refused this key: it is wrong, or it has been revoked.',
  revoked: 'Your key was revoked while the page was open. Enter a new key.',
};

export interface KeyDialog {
  ask(reason: KeyReason): void;
}

export function createKeyDialog(deps: KeyDialogDeps): KeyDialog {
  const { dialog, form, input, error } = deps;
  let busy = false;

  // The page shows nothing without a key: Escape does not dismiss the prompt.
  dialog.addEventListener('cancel', (ev) => ev.preventDefault());

  async function submit(): Promise<void> {
    const key = input.value.trim();
    if (!looksLikeKey(key)) {
      error.textContent = 'That is not an API key: keys look like bpk_<id>_<secret>.';
      return;
    }
    busy = true;
    error.textContent = 'Checking the key…';
    const verdict = await deps.tryKey(key).finally(() => {
      busy = false;
    });
    if (verdict === 'refused') {
      error.textContent = MESSAGES.refused;
      input.select();
      return;
    }
    if (verdict === 'unreachable') {
      error.textContent = 'The gateway did not answer; try again in a moment.';
      return;
    }
    error.textContent = '';
    input.value = '';
    dialog.close();
    deps.accepted();
  }

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    if (!busy) void submit();
  });

  return {
    ask(reason) {
      error.textContent = MESSAGES[reason];
      if (!dialog.open) dialog.showModal();
      input.focus();
    },
  };
}
