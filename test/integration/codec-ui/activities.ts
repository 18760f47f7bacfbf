export interface Contact {
  CONTACT_ID: number;
  FIRST_NAME: string;
  EMAIL_ADDRESS: string;
}

/** Answers with the contact's id only, so the record itself is in the activity's input alone. */
export async function rememberContact(contact: Contact): Promise<string> {
  return `contact ${contact.CONTACT_ID} remembered`;
}
